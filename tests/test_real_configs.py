"""The real surveys' configs name things their files hold (read with SKT_SHARED_DATA)."""

import os

import pytest

from pipeline.config import dataset_config, load_config
from pipeline.paths import expand_path
from pipeline.survey_io import read_table
from pipeline.units import detect_elements
from workflow_helpers import REPO


@pytest.mark.parametrize("name", ["katanning", "area6", "kolari"])
def test_the_declared_commodity_is_an_element_of_the_survey(shared_data, monkeypatch, name):
    monkeypatch.setenv("SKT_SHARED_DATA", str(shared_data))
    config = load_config(REPO / "config" / f"{name}.yaml")
    view = dataset_config(config, name)
    ds = view["dataset"]
    table = read_table(expand_path(ds["samples"]), layer=ds.get("samples_layer"))
    exclude = {c for c in (ds.get("x_column"), ds.get("y_column"), ds.get("campaign_column"),
                           table.attrs.get("geometry_x"), table.attrs.get("geometry_y")) if c}
    elements = {c.name for c in detect_elements(table.columns, mapping=ds.get("elements") or None,
                                                units=ds.get("units"), exclude=exclude)}
    commodity = view["evaluate"]["commodity"]
    assert commodity and set(commodity) <= elements, (commodity, sorted(elements))
    assert os.path.exists(expand_path(ds["sites"]))
