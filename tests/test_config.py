import copy

import pytest
import yaml

from pipeline.config import dataset_config, load_config, validate_config
from pipeline.errors import InputError


@pytest.fixture
def raw(repo):
    return yaml.safe_load((repo / "config.yaml").read_text())


def test_default_config_is_valid_and_filled(repo):
    config = load_config(repo / "config.yaml")
    view = dataset_config(config, "demo")
    assert view["interpolate"]["n_neighbors"] == 12
    assert view["dataset"]["samples_layer"] is None  # default filled from the schema
    assert view["skt"]["beta"] == 0.7


@pytest.mark.parametrize("name", ["paper.yaml", "katanning.yaml", "regions.yaml"])
def test_ready_configs_are_valid(repo, name):
    config = load_config(repo / "config" / name)
    assert config["datasets"]


def test_paper_config_holds_the_paper_values(repo):
    config = load_config(repo / "config" / "paper.yaml")
    view = dataset_config(config, next(iter(config["datasets"])))
    assert (view["interpolate"]["width"], view["interpolate"]["height"]) == (3072, 3072)
    assert (view["tiles"]["window"], view["tiles"]["stride"], view["train"]["crop"]) == (256, 128, 224)
    assert view["skt"]["dilations"] == [1, 6, 12, 18, 24]
    assert view["train"]["epochs"] == 150 and view["train"]["batch_size"] == 128
    assert view["train"]["lr"] == 0.1 and view["train"]["lr_step"] == 30 and view["train"]["lr_gamma"] == 0.5
    assert view["train"]["momentum"] == 0.01 and view["train"]["weight_decay"] == 1e-4
    assert view["train"]["noise_variance"] == 0.01 and view["model"]["width"] == 64
    assert view["screen"]["z_critical"] == 2.58 and view["interpolate"]["power"] == 2


def test_unknown_key_fails_with_its_path(raw):
    raw["interpolate"]["powr"] = 3
    with pytest.raises(InputError, match=r"interpolate.*powr"):
        validate_config(raw)


def test_out_of_range_value_fails(raw):
    raw["interpolate"]["n_neighbors"] = 0
    with pytest.raises(InputError, match=r"interpolate/n_neighbors"):
        validate_config(raw)


def test_unknown_key_in_dataset_settings_fails(raw):
    raw["datasets"]["demo"]["settings"] = {"tiles": {"windw": 32}}
    with pytest.raises(InputError, match=r"datasets/demo/settings/tiles.*windw"):
        validate_config(raw)


def test_dataset_settings_override_only_what_they_name(raw):
    raw["datasets"]["other"] = copy.deepcopy(raw["datasets"]["demo"])
    raw["datasets"]["other"]["settings"] = {"interpolate": {"power": 3.0}}
    config = validate_config(raw)
    assert dataset_config(config, "other")["interpolate"]["power"] == 3.0
    assert dataset_config(config, "other")["interpolate"]["n_neighbors"] == 12
    assert dataset_config(config, "demo")["interpolate"]["power"] == 2.0


def test_cross_key_rules(raw):
    bad = copy.deepcopy(raw)
    bad["tiles"]["stride"] = 128
    with pytest.raises(InputError, match="stride"):
        validate_config(bad)
    bad = copy.deepcopy(raw)
    bad["train"]["crop"] = 40
    bad["skt"]["dilations"] = [1, 24]
    with pytest.raises(InputError, match="dilation"):
        validate_config(bad)
    bad = copy.deepcopy(raw)
    bad["source"]["task"] = "dataset"
    bad["source"]["dataset"] = "nowhere"
    with pytest.raises(InputError, match="nowhere"):
        validate_config(bad)


def test_dataset_name_regions_is_reserved(raw):
    raw["datasets"]["regions"] = raw["datasets"].pop("demo")
    with pytest.raises(InputError, match="'regions' is reserved"):
        validate_config(raw)


def _pins(lines):
    return {line.split("==")[0].lower(): line.split("==")[1] for line in lines if "==" in line}


def test_conda_environment_pins_match_the_requirements(repo):
    req = _pins(line.strip() for line in (repo / "envs" / "requirements.txt").read_text().splitlines()
                if not line.startswith("#"))
    env = yaml.safe_load((repo / "envs" / "environment.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda = _pins(pip)
    assert conda == {k: v for k, v in req.items() if k not in ("snakemake", "pytest")}
    assert "python=3.11" in env["dependencies"]


def test_lint_finds_only_the_pythonpath_note(repo, tmp_path):
    """Every rule names its conda environment and the rule files hold no functions.
    The one remaining lint is a false positive: the Snakefile sets PYTHONPATH for
    the jobs, it does not require it from the user."""
    import os
    import re
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=repo, capture_output=True,
                            text=True, env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path)))
    text = result.stdout + result.stderr
    lints = re.findall(r"^\s+\* (.+?):$", text, flags=re.M)
    assert len(lints) == 1 and lints[0].startswith("Environment variable PYTHONPATH used"), text[-3000:]


def test_regions_config_gives_each_region_the_view_it_has_alone(repo, monkeypatch):
    monkeypatch.setenv("SKT_SHARED_DATA", "/data")
    regions = load_config(repo / "config" / "regions.yaml")
    assert list(regions["datasets"]) == ["demo", "katanning", "area6", "kolari"]
    alone = {"demo": load_config(repo / "config.yaml")}
    alone.update({name: load_config(repo / "config" / f"{name}.yaml") for name in ("katanning", "area6", "kolari")})
    for name, config in alone.items():
        assert dataset_config(regions, name) == dataset_config(config, name), name


def test_a_configfile_replaces_config_yaml(repo, tmp_path):
    """Run from the repository root, --configfile must not bring config.yaml's demo dataset along."""
    import os
    import subprocess
    import sys

    config = yaml.safe_load((repo / "config.yaml").read_text())
    only = dict(config["datasets"]["demo"])
    only["samples"], only["sites"] = str(repo / only["samples"]), str(repo / only["sites"])
    configfile = tmp_path / "only.yaml"
    configfile.write_text(yaml.safe_dump({"datasets": {"only": only}}))
    result = subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", "--cores", "1", "--configfile",
                             str(configfile)], cwd=repo, capture_output=True, text=True,
                            env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "results/only/prepare/samples.gpkg" in result.stdout
    assert "results/demo/" not in result.stdout


def _schema_defaults(schema, node):
    """The defaults a schema node gives, nested objects filled from their own properties."""
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    if node.get("type") == "object" and "properties" in node:
        out = {}
        for name, sub in node["properties"].items():
            resolved = schema["$defs"][sub["$ref"].split("/")[-1]] if "$ref" in sub else sub
            if resolved.get("type") == "object" and "properties" in resolved and "default" in sub:
                out[name] = _deep({**_schema_defaults(schema, resolved)}, sub["default"])
            elif "default" in sub:
                out[name] = sub["default"]
        return out
    return node.get("default")


def _deep(base, override):
    for key, value in override.items():
        base[key] = _deep(base.get(key, {}), value) if isinstance(value, dict) else value
    return base


def test_a_survey_config_with_one_key_runs_with_the_schema_defaults_for_every_other(tmp_path):
    from pipeline.config import SECTIONS, dataset_config, load_schema, validate_config, write_effective_config

    config = {"datasets": {"mine": {"samples": "s.csv", "sites": "t.csv", "crs": "EPSG:32650"}},
              "interpolate": {"power": 3.0}}
    validate_config(config)
    path = write_effective_config(dataset_config(config, "mine"), tmp_path / "effective.yaml", dataset="mine")
    effective = yaml.safe_load(path.read_text())
    schema = load_schema()
    for section in SECTIONS:
        expected = _schema_defaults(schema, schema["properties"][section])
        if section == "interpolate":
            expected["power"] = 3.0
        assert effective[section] == expected, section
    assert effective["dataset"]["x_column"] == "X" and effective["seed"] == 42
