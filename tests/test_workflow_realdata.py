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
