"""The prepare stage on the real public surveys in SKT_SHARED_DATA (see its README.md), without hand edits."""

import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from pipeline.atomic import write_json
from pipeline.prepare import prepare_samples, prepare_sites
from pipeline.survey_io import write_points

pytestmark = pytest.mark.skipif(not os.environ.get("SKT_SHARED_DATA"), reason="SKT_SHARED_DATA not set")


@pytest.fixture(scope="module")
def data():
    return Path(os.environ["SKT_SHARED_DATA"])


@pytest.fixture(scope="module")
def katanning(data):
    return prepare_samples(data / "gswa_katanning" / "samples.csv", x_column="X", y_column="Y", crs="EPSG:4283",
                           working_crs="EPSG:28350", missing_codes=(-9999,))


def check_consistent(gdf, qa):
    assert qa["rows_read"] == qa["rows_kept"] + qa["rows_rejected"]["count"]
    assert qa["rows_kept"] == int(gdf["n_merged"].sum())
    assert qa["locations_merged"]["locations_written"] == len(gdf)
    for name, entry in qa["elements_kept"].items():
        assert int(gdf[name].notna().sum()) == entry["valid_locations"]
    for name, missing in qa["values_missing"].items():
        assert missing["total"] == sum(v for k, v in missing.items() if k != "total")


def test_katanning_samples_counts(katanning, data):
    gdf, qa = katanning
    raw = pd.read_csv(data / "gswa_katanning" / "samples.csv")
    check_consistent(gdf, qa)
    assert qa["rows_read"] == len(raw) == 1392 and qa["rows_rejected"]["count"] == 0
    distinct = len(raw[["X", "Y"]].drop_duplicates())
    assert distinct == 820 == len(gdf) == qa["locations_merged"]["locations"]
    assert qa["locations_merged"]["rows_merged_away"] == 1392 - 820
    assert qa["crs_in"] == "EPSG:4283" and qa["crs_out"] == "EPSG:28350" and gdf.crs.to_epsg() == 28350
    # MGA zone 50 around Katanning
    assert gdf["x"].between(450_000, 750_000).all() and gdf["y"].between(6_150_000, 6_450_000).all()


def test_katanning_missing_and_detection_limit_codes(katanning, data):
    _, qa = katanning
    raw = pd.read_csv(data / "gswa_katanning" / "samples.csv")
    for column, name in [("Ag_ppm", "Ag"), ("Au_ppm", "Au"), ("Bi_ppm", "Bi"), ("Pt_ppb", "Pt")]:
        values = raw[column]
        assert qa["values_missing"][name].get("missing_code", 0) == int((values == -9999).sum())
        censored = int(((values < 0) & (values != -9999)).sum() + (values == 0).sum())
        assert qa["values_below_detection"]["counts"][name]["count"] == censored
    assert qa["values_below_detection"]["rule"] == "half"
    for name in ("B", "F"):
        dropped = qa["elements_dropped"][name]
        assert dropped["reason"] == "no valid values: all 1392 rows missing (missing_code 1392)"
        assert dropped["valid_locations"] == 0
    assert "no value above the detection limit" in qa["elements_dropped"]["Rh"]["reason"]
    assert qa["values_text_to_missing"] == {}


def test_katanning_units_and_values(katanning, data):
    gdf, qa = katanning
    raw = pd.read_csv(data / "gswa_katanning" / "samples.csv")
    assert gdf.attrs["units"]["Au"] == "ppb" and gdf.attrs["units"]["Cu"] == "ppm"
    assert gdf.attrs["units"]["Fe2O3T"] == "pct" and "Fe" in gdf.attrs["units"]  # oxides kept apart
    assert qa["elements_kept"]["Au"]["source_columns"] == [{"column": "Au_ppm", "unit": "ppm", "factor": 1000.0}]
    # a location sampled once keeps its value, converted ppm -> ppb
    single = raw.groupby(["X", "Y"], sort=False).filter(lambda g: len(g) == 1)
    single = single[single["Au_ppm"] > 0].iloc[0]
    match = gdf[np.isclose(gdf["n_merged"], 1) & np.isclose(gdf["Au"], single["Au_ppm"] * 1000)]
    assert len(match) >= 1
    # a repeated location holds the median of its rows
    repeated = raw.groupby(["X", "Y"], sort=False)["Cu_ppm"].agg(["median", "size"])
    assert sorted(gdf["n_merged"].tolist()) == sorted(repeated["size"].tolist())
    np.testing.assert_allclose(np.sort(gdf["Cu"].to_numpy()), np.sort(repeated["median"].to_numpy()))


def test_katanning_outputs_written(katanning, tmp_path):
    gdf, qa = katanning
    write_points(gdf, tmp_path / "samples.gpkg")
    write_json(tmp_path / "qa.json", qa)
    back = gpd.read_file(tmp_path / "samples.gpkg")
    assert len(back) == 820 and back.crs.to_epsg() == 28350
    assert json.loads((tmp_path / "qa.json").read_text())["rows_read"] == 1392


def test_katanning_sites(data):
    gdf, qa = prepare_sites(data / "gswa_katanning" / "deposits.csv", crs="EPSG:4283", working_crs="EPSG:28350")
    assert qa["rows_read"] == 32 and qa["rows_rejected"]["count"] == 0
    assert int(gdf["n_merged"].sum()) == 32 and len(gdf) == qa["locations_merged"]["locations"]
    types = "; ".join(gdf["SITE_TYPE_"]).split("; ")
    assert {t: types.count(t) for t in set(types)} == {"Mine": 2, "Deposit": 4, "Prospect": 21, "Occurrence": 5}
    assert gdf["SHORT_NAME"].map(type).eq(str).all() and "Dingo" in set(gdf["SHORT_NAME"])


def test_kolari_till_geopackage(data):
    path = data / "gtk_kolari" / "till_geochemistry.gpkg"
    gdf, qa = prepare_samples(path, x_column=None, y_column=None, working_crs="EPSG:3067")
    raw = gpd.read_file(path)
    check_consistent(gdf, qa)
    assert qa["rows_read"] == len(raw) == 1112 and len(gdf) == 1112
    assert qa["coordinates"]["source"] == "geometry" and qa["crs_in"] == "EPSG:3067"
    assert qa["row_numbering"].startswith("feature number")
    # Cu_ppm_511: the method code is recorded, the variable is Cu
    assert qa["elements_kept"]["Cu"]["source_columns"][0] == {
        "column": "Cu_ppm_511", "unit": "ppm", "factor": 1.0, "method": "511"}
    assert len(qa["elements_kept"]) == 22 and not qa["elements_dropped"]
    assert all(c in qa["columns_not_used"] for c in ("Cu_511P_T", "Zr_511P_T", "Easting", "Northing"))
    np.testing.assert_allclose(gdf["Cu"].to_numpy(), raw["Cu_ppm_511"].to_numpy())
    # zeros (flagged '<' or '!' in the companion columns) are below an unknown limit
    assert qa["values_below_detection"]["counts"]["Zr"]["limit_not_given"] == int((raw["Zr_ppm_511"] == 0).sum())
    np.testing.assert_allclose(gdf["x"], raw.geometry.x, atol=1e-6)


def test_kolari_defaults_pick_geometry_and_keep_its_projected_crs(data):
    # EPSG:3067 (ETRS-TM35FIN) is projected in metres: kept, not swapped for a UTM zone
    gdf, qa = prepare_samples(data / "gtk_kolari" / "till_geochemistry.gpkg")
    assert qa["coordinates"]["source"] == "geometry" and qa["crs_out"] == "EPSG:3067"
    assert "point geometry is used" in qa["coordinates"]["note"]
    sites, site_qa = prepare_sites(data / "gtk_kolari" / "deposits.gpkg", working_crs=qa["crs_out"])
    assert site_qa["rows_read"] == 26 and int(sites["n_merged"].sum()) == 26
    assert sites.crs.to_epsg() == 3067 and sites["Name"].map(type).eq(str).all()
    assert set(sites["Ocurrence_"]) <= {"deposit", "prospect", "occurrence"}


def test_area6_soil(data):
    gdf, qa = prepare_samples(data / "gswa_area6_soil" / "samples.csv", crs="EPSG:4283", working_crs="EPSG:28350")
    check_consistent(gdf, qa)
    assert qa["rows_read"] == 2734 and len(gdf) == 1265
    assert "Au" in qa["elements_kept"]
