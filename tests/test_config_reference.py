"""docs/configuration.md is generated from the schema and config.yaml; every key is documented somewhere."""

from pathlib import Path

import yaml

from pipeline import config_reference
from pipeline.config import SCHEMA_PATH


def test_the_page_is_the_generated_one():
    assert config_reference.PAGE.read_text() == config_reference.build(), \
        "docs/configuration.md is stale: run python -m pipeline.config_reference"


def test_every_key_has_a_description_in_the_schema_or_a_comment_in_config_yaml():
    schema = yaml.safe_load(Path(SCHEMA_PATH).read_text())
    comments = config_reference.config_comments(config_reference.DEMO_CONFIG.read_text())
    assert config_reference.undocumented(schema, comments) == []
    # and every key of the schema is on the page
    page = config_reference.PAGE.read_text()
    assert all(f"| `{path}` |" in page for path, _ in config_reference.schema_keys(schema))


def test_comments_are_read_from_the_key_line_or_the_lines_above_it():
    text = ("datasets:\n  demo:\n    crs: EPSG:1   # the samples' CRS\n"
            "train:\n  # how long\n  # to train\n  epochs: 8\n  lr: 0.1\n  label: \"a # b\"\n")
    comments = config_reference.config_comments(text)
    assert comments == {"datasets.NAME.crs": "the samples' CRS", "train.epochs": "how long to train"}


def test_the_demo_value_is_shown_only_where_it_differs_from_the_default():
    schema = {"properties": {"train": {"type": "object", "properties": {
        "epochs": {"type": "integer", "minimum": 1, "default": 12, "description": "epochs"},
        "lr": {"type": "number", "default": 0.1, "description": "rate"}}}}}
    page = config_reference.reference_markdown(schema, {}, {"train": {"epochs": 8, "lr": 0.1}})
    assert "| `train.epochs` | integer, >= 1 | `12` | `8` | epochs |" in page
    assert "| `train.lr` | number | `0.1` |  | rate |" in page
