"""The ready Katanning dataset entry, prepare through tiles, on the real GSWA survey."""

import json
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

from workflow_helpers import REPO, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def katanning(tmp_path_factory):
    if not os.environ.get("SKT_SHARED_DATA"):
        pytest.skip("SKT_SHARED_DATA is not set")
    work = tmp_path_factory.mktemp("katanning")
    snakemake(work, REPO / "config" / "katanning.yaml", "results/katanning/tiles/index.gpkg")
    return work / "results" / "katanning"


def test_katanning_runs_without_hand_edits(katanning):
    qa = json.loads((katanning / "prepare" / "qa.json").read_text())
    samples = qa["samples"]
    assert samples["rows_read"] == 1392
    assert samples["rows_read"] == samples["rows_kept"] + samples["rows_rejected"]["count"]
    assert samples["crs_out"].endswith("28350")
    assert sum(c["count"] for c in samples["values_below_detection"]["counts"].values()) > 0  # negative DL codes repaired
    assert qa["sites"]["rows_read"] == 32

    points = gpd.read_file(katanning / "prepare" / "samples.gpkg")
    assert points.crs.to_epsg() == 28350 and len(points) == 820  # repeated locations merged

    table = pd.read_csv(katanning / "screening" / "elements.csv")
    assert "Au" in set(table["element"]) and table["selected"].sum() >= 3

    with rasterio.open(katanning / "stack" / "zscore.tif") as src:
        assert src.crs.to_epsg() == 28350
        assert list(src.descriptions) == table.loc[table["selected"], "element"].tolist()
        z = src.read(1, masked=True)
        assert abs(float(z.mean())) < 1e-3 and z.mask.any()  # nodata far from samples

    index = gpd.read_file(katanning / "tiles" / "index.gpkg")
    counts = index.groupby("split")["label"].agg(["size", "sum"])
    assert counts.loc["train", "sum"] > 0 and counts.loc["test", "sum"] > 0
    windows = np.load(katanning / "tiles" / "windows.npy", mmap_mode="r")
    assert len(windows) == int((index["split"] != "skipped").sum())


@pytest.fixture(scope="module")
def katanning_cv(tmp_path_factory):
    """Katanning's cross-validation with the reference maps and the campaign probe only (no training)."""
    if not os.environ.get("SKT_SHARED_DATA"):
        pytest.skip("SKT_SHARED_DATA is not set")
    import yaml

    from workflow_helpers import write_config

    work = tmp_path_factory.mktemp("katanning_cv")
    config = yaml.safe_load((REPO / "config" / "katanning.yaml").read_text())
    config["evaluate"]["cv"]["methods"] = []
    snakemake(work, write_config(config, work / "config.yaml"), "results/katanning/tables/cv_summary.csv",
              "results/katanning/tables/gad_protocol.csv")
    return work / "results" / "katanning"


def test_katanning_cross_validation_reference_maps_and_campaign_probe(katanning_cv):
    plan = json.loads((katanning_cv / "cv" / "folds.json").read_text())
    # 32 sites, 8 clusters at 5 km; 7 sites lie farther than interpolate.max_distance from every sample
    assert plan["n_sites"] == 32 and plan["n_clusters"] == 8 and plan["n_folds"] == 8
    assert plan["n_scored"] == 25 and plan["n_outside_area"] == 7
    summary = pd.read_csv(katanning_cv / "tables" / "cv_summary.csv").set_index("method")
    assert summary.loc["campaign", "kind"] == "probe"
    # the untrained Au raster finds held-out sites well above chance; zinc ranks them below it
    assert summary.loc["idw_Au", "heldout_auc"] > 0.75 and summary.loc["idw_Au", "ci_low"] > 0.5
    assert summary.loc["idw_Zn", "heldout_auc"] < 0.3
    # the yardstick: the declared commodity (Au) scores as the Au raster; the oracle, picked on the test
    # sites, is Au too; reference_nested is chosen fold by fold on the training sites
    assert summary.loc["reference_commodity", "heldout_auc"] == pytest.approx(summary.loc["idw_Au", "heldout_auc"])
    assert summary.loc["idw_Au", "oracle_reference_is"] == "idw_Au"
    nested = pd.read_csv(katanning_cv / "tables" / "cv_nested.csv")
    assert len(nested) == 8 and (nested["chosen"] == "idw_Au").sum() >= 6
    text = (katanning_cv / "tables" / "cv_summary.md").read_text()
    assert "outside area" in text and "Campaign of the nearest sample (confound probe)" in text
    qa = json.loads((katanning_cv / "prepare" / "qa.json").read_text())["samples"]
    assert qa["harmonise_censoring"]["on"] and "WAMEX_A_NO" == qa["campaigns"]["column"]
    gad = pd.read_csv(katanning_cv / "tables" / "gad_protocol.csv").set_index("method")
    assert {"sampling_density", "idw_Au", "campaign"} <= set(gad.index)
