"""The workflow run by Snakemake itself on a tiny configuration of the demo survey."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

from workflow_helpers import planned_rules, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("workflow")
    config = tiny_config()
    configfile = write_config(config, work / "config.yaml")
    snakemake(work, configfile)
    return work, config, configfile


def test_outputs_follow_the_contract(tiny_run):
    work, config, _ = tiny_run
    out = work / "results" / "demo"
    samples = gpd.read_file(out / "prepare" / "samples.gpkg")
    assert samples.crs.to_epsg() == 32649 and len(samples) > 1000
    qa = json.loads((out / "prepare" / "qa.json").read_text())
    assert qa["samples"]["rows_read"] > len(samples)

    table = pd.read_csv(out / "screening" / "elements.csv")
    assert list(table.columns)[:4] == ["element", "n_valid", "n_with_mines", "n_without_mines"]
    selected = table.loc[table["selected"], "element"].tolist()
    assert selected

    for element in selected:
        with rasterio.open(out / "rasters" / f"{element}.tif") as src:
            assert src.crs.to_epsg() == 32649 and src.nodata is not None
            assert src.dtypes[0] == "float32" and src.descriptions[0] == element
            assert (src.width, src.height) == (128, 128)
            assert src.overviews(1)
    with rasterio.open(out / "stack" / "zscore.tif") as src:
        assert list(src.descriptions) == selected
        stack_transform = src.transform
    meta = json.loads((out / "tiles" / "tiles.json").read_text())
    assert meta["elements"] == selected and meta["split_row"] == 96
    index = gpd.read_file(out / "tiles" / "index.gpkg")
    assert {"tile_id", "row", "col", "split", "label", "n_sites"} <= set(index.columns)
    assert index.crs.to_epsg() == 32649
    windows = np.load(out / "tiles" / "windows.npy", mmap_mode="r")
    assert windows.shape[1:] == (len(selected), 32, 32)
    assert rasterio.Affine(*meta["grid"]["transform"]) == stack_transform


def test_changing_idw_power_reruns_interpolation_not_prepare_or_screen(tiny_run):
    work, config, _ = tiny_run
    changed = dict(config, interpolate=dict(config["interpolate"], power=3.0))
    rules = planned_rules(work, write_config(changed, work / "power.yaml"))
    assert {"interpolate", "stack", "tiles"} <= rules
    assert not rules & {"prepare", "screen"}


def test_changing_stride_reruns_tiles_not_interpolation(tiny_run):
    work, config, _ = tiny_run
    changed = dict(config, tiles=dict(config["tiles"], stride=8))
    rules = planned_rules(work, write_config(changed, work / "stride.yaml"))
    assert "tiles" in rules
    assert not rules & {"prepare", "screen", "interpolate", "stack"}


def test_unchanged_config_has_nothing_to_do(tiny_run):
    work, _, configfile = tiny_run
    assert planned_rules(work, configfile) == set()


def test_bad_config_stops_before_any_job(tmp_path):
    config = tiny_config()
    config["interpolate"]["n_neighbours"] = 12  # misspelt key
    result = snakemake(tmp_path, write_config(config, tmp_path / "bad.yaml"), "--dry-run", check=False)
    assert result.returncode != 0
    assert "n_neighbours" in result.stdout + result.stderr
