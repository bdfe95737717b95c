"""The advice when the sites miss the samples (pipeline.site_offsets), on the demo's files."""

import numpy as np
import pandas as pd
import pyproj
import pytest

from pipeline.errors import InputError
from pipeline.prepare import prepare_samples, prepare_sites
from pipeline.site_offsets import frames_hint, offset_hint
from workflow_helpers import REPO

DEMO = REPO / "data" / "demo"


@pytest.fixture(scope="module")
def samples():
    return prepare_samples(DEMO / "samples.csv", x_column="X", y_column="Y", crs="EPSG:32649",
                           working_crs="EPSG:32649", units={"Au": "ppb", "Hg": "ppb"})


def sites_from(tmp_path, frame, **kw):
    path = tmp_path / "sites.csv"
    frame.to_csv(path, index=False)
    kw = {"x_column": "X", "y_column": "Y", **kw}
    return prepare_sites(path, working_crs="EPSG:32649", **kw)


def test_sites_on_the_samples_need_no_advice(samples, tmp_path):
    gdf, qa = samples
    sites, sites_qa = sites_from(tmp_path, pd.read_csv(DEMO / "sites.csv"), crs="EPSG:32649")
    assert frames_hint(sites, gdf, sites_qa, qa) is None


def test_swapped_columns_stop_naming_the_keys(tmp_path):
    raw = pd.read_csv(DEMO / "sites.csv")
    with pytest.raises(InputError, match="with x and y exchanged they are: swap sites_x_column and sites_y_column"):
        sites_from(tmp_path, raw.rename(columns={"X": "Y", "Y": "X"}), crs="EPSG:32649",
                   x_column="X", y_column="Y")


def test_sites_one_zone_off_get_the_neighbouring_zone(samples):
    gdf, qa = samples
    xy = gdf.get_coordinates().to_numpy()
    lon, lat = pyproj.Transformer.from_crs("EPSG:32649", "EPSG:4326", always_xy=True).transform(xy[:20, 0], xy[:20, 1])
    # the sites' positions written in zone 50 but read as zone 49: inside zone 49's area, far from the samples
    x50, y50 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True).transform(lon, lat)
    hint = offset_hint(np.c_[x50, y50], xy, "EPSG:32649", "EPSG:32649", "EPSG:32649")
    assert "set sites_crs: EPSG:32650 (a neighbouring UTM zone)" in hint
    # zone 50's eastings of these points are smaller: read in zone 49 they land west of the samples
    assert "km west of the samples" in hint


def test_the_distance_and_direction_of_a_plain_offset():
    samples = np.array([[0.0, 0.0], [1000.0, 1000.0]])
    sites = samples + [0.0, 300_000.0]
    hint = offset_hint(sites, samples, "EPSG:32649", "EPSG:32649", "EPSG:32649")
    assert "300 km north of the samples" in hint and "check the sites file and sites_crs" in hint
