"""The prepare stage on small synthetic surveys written to disk (CSV and GeoPackage)."""

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from pipeline.prepare import (
    ABOVE, BELOW, BELOW_UNKNOWN, CODE, CODE_GUESSED, EMPTY, NON_FINITE, VALID,
    parse_values, prepare_samples, prepare_sites, utm_crs_for,
)
from pipeline.survey_io import read_points, read_table, write_points
from pipeline.units import canonical_unit, conversion_factor, detect_elements, parse_column_name


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(str(v) for v in row) for row in rows]) + "\n")
    return path


def survey(tmp_path, n=40, extra=None, name="samples.csv"):
    """n distinct points on a 2 km grid near Katanning (lon/lat, GDA94) with Au_ppm and Cu_ppm; extra rows after."""
    rng = np.random.default_rng(0)
    header = ["X", "Y", "SAMPLEID", "Au_ppm", "Cu_ppm"]
    rows = []
    for i in range(n):
        rows.append([f"{117.5 + (i % 8) * 0.02:.6f}", f"{-33.5 - (i // 8) * 0.02:.6f}", f"S{i}",
                     f"{rng.uniform(0.001, 0.1):.4f}", f"{rng.uniform(5, 50):.1f}"])
    for row in extra or []:
        rows.append(row)
    return write_csv(tmp_path / name, header, rows)


def check_qa_consistent(gdf, qa):
    assert qa["rows_read"] == qa["rows_kept"] + qa["rows_rejected"]["count"]
    assert qa["rows_kept"] == int(gdf["n_merged"].sum())
    assert qa["locations_merged"]["locations_written"] == len(gdf)
    assert len(qa["rows_rejected"]["rows"]) == qa["rows_rejected"]["count"]
    assert sum(qa["rows_rejected"]["by_reason"].values()) == qa["rows_rejected"]["count"]
    for name, missing in qa["values_missing"].items():
        assert missing["total"] == sum(v for k, v in missing.items() if k != "total"), name
    for name, entry in qa["elements_kept"].items():
        assert int(gdf[name].notna().sum()) == entry["valid_locations"]
    assert set(gdf.attrs["units"]) == set(qa["elements_kept"])


# ---------------------------------------------------------------- column names and units

@pytest.mark.parametrize("name, expected", [
    ("Au_ppm", ("Au", "ppm", None)),
    ("Au (ppb)", ("Au", "ppb", None)),
    ("Cu_pct", ("Cu", "pct", None)),
    ("Fe2O3_pct", ("Fe2O3", "pct", None)),
    ("Fe2O3T_pct", ("Fe2O3T", "pct", None)),
    ("LOI_pct", ("LOI", "pct", None)),
    ("Cu_ppm_511", ("Cu", "ppm", "511")),
    ("K_ppm_511P", ("K", "ppm", "511P")),
    ("Au_FA_ppb", ("Au", "ppb", "FA")),
    ("CU_PPM", ("Cu", "ppm", None)),
    ("SIO2_PCT", ("SiO2", "pct", None)),
    ("Au_g/t", ("Au", "g/t", None)),
    ("Au", ("Au", None, None)),
    ("AU", ("Au", None, None)),
])
def test_element_names_are_read(name, expected):
    assert parse_column_name(name) == expected


@pytest.mark.parametrize("name", ["SAMPLEID", "OBJECTID_x", "LABnegNR_N", "Cu_511P_T", "SNO", "Year", "x", "No",
                                  "N", "COMPSAMPID", "Northing"])
def test_other_columns_are_not_elements(name):
    assert parse_column_name(name) is None


def test_canonical_units_and_factors():
    assert canonical_unit("Au") == "ppb" and canonical_unit("Pt") == "ppb" and canonical_unit("Hg") == "ppb"
    assert canonical_unit("Ag") == "ppm" and canonical_unit("Cu") == "ppm" and canonical_unit("BaO") == "ppm"
    assert canonical_unit("Fe2O3") == "pct" and canonical_unit("LOI") == "pct"
    assert canonical_unit("Au", {"Au": "ppm"}) == "ppm"
    assert conversion_factor("ppm", "ppb") == 1000.0
    assert conversion_factor("pct", "ppm") == 1e4
    assert conversion_factor("g/t", "ppb") == 1000.0


def test_detect_elements_keeps_oxides_apart_and_excludes_coordinates():
    found = detect_elements(["X", "Y", "Fe_ppm", "Fe2O3_pct", "Au", "SAMPLEID"], units={"Au": "ppb"},
                            exclude={"X", "Y"})
    assert [(e.name, e.column, e.unit) for e in found] == [
        ("Fe", "Fe_ppm", "ppm"), ("Fe2O3", "Fe2O3_pct", "pct"), ("Au", "Au", "ppb")]
    assert detect_elements(["Y", "Cu"], exclude={"Y"})[0].unit == "ppm"  # plain names default to ppm


def test_detect_elements_names_methods_apart():
    found = detect_elements(["Cu_ppm_511", "Cu_ppm_521", "Zn_ppm_511"])
    assert [e.name for e in found] == ["Cu_511", "Cu_521", "Zn"]
    assert found[2].method == "511"


def test_detect_elements_from_a_list_and_a_dict():
    columns = ["X", "Y", "Au_ppb", "Cu_ppm", "lab_gold"]
    assert [e.column for e in detect_elements(columns, mapping=["Cu"])] == ["Cu_ppm"]
    mapped = detect_elements(columns, mapping={"Au": "lab_gold"}, units={"lab_gold": "g/t"})
    assert (mapped[0].name, mapped[0].column, mapped[0].unit) == ("Au", "lab_gold", "g/t")


# ---------------------------------------------------------------- cell values

def test_parse_values_classifies_every_kind_of_cell():
    raw = pd.Series(["1.5", " 2 ", "<0.5", "< 0.2", "-0.1", "0", "", "NA", "-9999", "n.d.", "inf", ">1000",
                     "-99999", "BDL"], dtype="str")
    parsed = parse_values(raw, missing_codes=(-9999,))
    # n.d. (not detected) is a below-limit flag of the TEXT_FLAGS table
    assert parsed.status.tolist() == [VALID, VALID, BELOW, BELOW, BELOW, BELOW_UNKNOWN, EMPTY, EMPTY, CODE,
                                      BELOW_UNKNOWN, NON_FINITE, ABOVE, CODE_GUESSED, BELOW_UNKNOWN]
    assert parsed.values[0] == 1.5 and parsed.values[11] == 1000.0
    np.testing.assert_allclose(parsed.limits[[2, 3, 4]], [0.5, 0.2, 0.1])


def test_parse_values_of_a_numeric_column_and_text_missing_codes():
    parsed = parse_values(pd.Series([3.0, np.nan, -0.5, -9999.0]))
    assert parsed.status.tolist() == [VALID, EMPTY, BELOW, CODE]
    parsed = parse_values(pd.Series(["IS", "4"], dtype="str"), missing_codes=(-9999, "IS"))
    assert parsed.status.tolist() == [CODE, VALID]


@pytest.mark.parametrize("rule, expected", [
    ("half", 0.25), ("limit", 0.5), ("sqrt2", 0.5 / math.sqrt(2)), ("zero", 0.0), ("missing", None)])
def test_detection_limit_rules(tmp_path, rule, expected):
    path = survey(tmp_path, extra=[["117.55", "-33.55", "BDL1", "<0.0005", "-0.5"]])
    gdf, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350", detection_limit_rule=rule)
    row = gdf.iloc[-1]
    if expected is None:  # the row is left without values and is dropped, listed
        assert len(gdf) == 40
        assert qa["values_missing"]["Cu"]["below_detection_set_missing"] == 1
        assert qa["rows_rejected"]["rows"][0]["row"] == 42
    else:
        assert row["Cu"] == pytest.approx(expected)
        assert row["Au"] == pytest.approx(expected * 1.0)  # 0.0005 ppm = 0.5 ppb
    assert qa["values_below_detection"]["rule"] == rule
    assert qa["values_below_detection"]["counts"]["Cu"]["count"] == 1
    check_qa_consistent(gdf, qa)


def test_zero_is_below_an_unknown_limit_and_the_smallest_limit_stands_in(tmp_path):
    path = survey(tmp_path, extra=[["117.55", "-33.55", "Z1", "0", "-2"], ["117.57", "-33.55", "Z2", "0.01", "0"]])
    # with zero_means: missing, a zero is the lab's "not analysed"
    gdf, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350", zero_means="missing")
    assert qa["values_missing"]["Cu"]["missing_code"] == 1 and np.isnan(gdf.iloc[-1]["Cu"])
    gdf, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350")
    # Cu writes a limit (-2) beside its zero: counted, where the choice matters
    assert qa["zeros"]["beside_explicit_limits"] == {"Cu": {"Cu_ppm": 1}}
    counts = qa["values_below_detection"]["counts"]
    assert counts["Cu"] == {"count": 2, "limit_given": 1, "limit_not_given": 1, "stand_in_limit": {"Cu_ppm": 2.0}}
    assert gdf.iloc[-1]["Cu"] == pytest.approx(1.0)
    smallest_au = pd.read_csv(path)["Au_ppm"].pipe(lambda s: s[s > 0].min())
    assert gdf.iloc[-2]["Au"] == pytest.approx(smallest_au / 2 * 1000)


def test_units_are_converted_to_canonical(tmp_path):
    path = write_csv(tmp_path / "s.csv", ["E", "N", "Au_ppm", "Ag_ppb", "Cu_pct", "Fe2O3_pct", "Hg"],
                     [[500000 + i * 100, 6300000, 0.002, 1500, 0.01, 5.0, 12] for i in range(3)])
    gdf, qa = prepare_samples(path, x_column="E", y_column="N", crs="EPSG:28350", working_crs="EPSG:28350",
                              units={"Hg": "ppb"}, min_valid=1)
    assert gdf.attrs["units"] == {"Au": "ppb", "Ag": "ppm", "Cu": "ppm", "Fe2O3": "pct", "Hg": "ppb"}
    first = gdf.iloc[0]
    assert first["Au"] == pytest.approx(2.0) and first["Ag"] == pytest.approx(1.5)
    assert first["Cu"] == pytest.approx(100.0) and first["Fe2O3"] == pytest.approx(5.0)
    assert first["Hg"] == pytest.approx(12.0)
    assert qa["elements_kept"]["Au"]["source_columns"] == [{"column": "Au_ppm", "unit": "ppm", "factor": 1000.0}]
    np.testing.assert_allclose(gdf["x"], [500000, 500100, 500200])


def test_output_units_override(tmp_path):
    path = survey(tmp_path)
    gdf, _ = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350", output_units={"Au": "ppm"})
    raw = pd.read_csv(path)
    assert gdf.attrs["units"]["Au"] == "ppm"
    np.testing.assert_allclose(gdf["Au"], raw["Au_ppm"])


def test_text_and_above_limit_cells_are_counted_with_examples(tmp_path):
    path = survey(tmp_path, extra=[["117.55", "-33.55", "T1", ">1", "n.d."], ["117.57", "-33.55", "T2", "0.1", "IS"],
                                   ["117.59", "-33.55", "T3", "0.1", "see note"]])
    gdf, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350")
    # n.d. (not detected) is below a limit, IS (insufficient sample) is not analysed: flags of the table;
    # "see note" is text no table knows: counted per value
    text = qa["values_text_to_missing"]["Cu"]
    assert text["count"] == 1
    assert text["examples"] == [{"row": 44, "column": "Cu_ppm", "value": "see note"}]
    assert text["values"] == {"see note": 1}
    assert qa["values_missing"]["Cu"]["flagged_not_analysed"] == 1
    assert qa["values_below_detection"]["counts"]["Cu"]["limit_not_given"] == 1
    assert qa["values_above_detection"] == {"Au": 1}
    assert gdf.iloc[-3]["Au"] == pytest.approx(1000.0)
    check_qa_consistent(gdf, qa)


def test_columns_of_one_element_in_two_units_are_combined(tmp_path):
    rows = [[117.5 + i * 0.01, -33.5, f"{0.01 * (i + 1):.2f}" if i < 20 else "", 99 if i >= 20 else ""]
            for i in range(40)]
    path = write_csv(tmp_path / "s.csv", ["X", "Y", "Au_ppm", "Au_ppb"], rows)
    gdf, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350")
    assert gdf["Au"].notna().all()
    assert gdf["Au"].iloc[0] == pytest.approx(10.0) and gdf["Au"].iloc[-1] == pytest.approx(99.0)
    used = {s["column"]: s["values_used"] for s in qa["elements_kept"]["Au"]["source_columns"]}
    assert used == {"Au_ppm": 20, "Au_ppb": 20}


# ---------------------------------------------------------------- locations

@pytest.mark.parametrize("rule, expected", [("median", 2.0), ("mean", 3.0), ("first", 1.0)])
def test_repeated_locations_are_merged(tmp_path, rule, expected):
    extra = [["117.55", "-33.55", "D1", "0.01", "1"], ["117.55", "-33.55", "D2", "0.01", "2"],
             ["117.55", "-33.55", "D3", "0.01", "6"]]
    path = survey(tmp_path, extra=extra)
    gdf, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350", duplicate_rule=rule)
    assert len(gdf) == 41
    assert gdf.iloc[-1]["n_merged"] == 3 and gdf.iloc[-1]["Cu"] == pytest.approx(expected)
    merged = qa["locations_merged"]
    assert (merged["rule"], merged["rows"], merged["locations"], merged["rows_merged_away"]) == (rule, 43, 41, 2)
    check_qa_consistent(gdf, qa)


@pytest.mark.parametrize("lon, lat, code", [
    (117.6, -33.6, "EPSG:32750"), (24.0, 67.5, "EPSG:32635"), (5.0, 60.0, "EPSG:32632"), (15.0, 78.0, "EPSG:32633"),
    (-177.0, 10.0, "EPSG:32601"), (180.0, 10.0, "EPSG:32601"), (179.9, -10.0, "EPSG:32760"), (0.0, 0.0, "EPSG:32631"),
])
def test_utm_crs_for(lon, lat, code):
    assert utm_crs_for(lon, lat) == code


def test_working_crs_defaults_to_the_utm_zone_of_the_data(tmp_path):
    gdf, qa = prepare_samples(survey(tmp_path), crs="EPSG:4283")
    assert qa["crs_out"] == "EPSG:32750" and gdf.crs.to_epsg() == 32750
    assert "UTM" in qa["crs_out_source"]


def test_elements_with_too_few_values_are_dropped_with_reason(tmp_path):
    path = write_csv(tmp_path / "s.csv", ["X", "Y", "Au_ppm", "Cu_ppm", "Bi_ppm"],
                     [[117.5 + i * 0.01, -33.5, 0.01, 5 if i < 10 else -9999, -0.5] for i in range(40)])
    gdf, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350")
    assert list(qa["elements_kept"]) == ["Au"] and "Cu" not in gdf.columns
    assert qa["elements_dropped"]["Cu"]["reason"] == "only 10 valid locations (min_valid = 30)"
    assert "no value above the detection limit" in qa["elements_dropped"]["Bi"]["reason"]
    _, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350", min_valid=5, min_valid_fraction=0.5)
    assert "min_valid_fraction" in qa["elements_dropped"]["Cu"]["reason"]


def test_locations_without_any_value_are_dropped_and_listed(tmp_path):
    path = survey(tmp_path, extra=[["117.55", "-33.55", "E1", "-9999", ""]])
    gdf, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350")
    assert len(gdf) == 40
    assert qa["rows_rejected"]["rows"] == [{"row": 42, "reason": "no valid value in any kept element",
                                            "column": None, "value": ""}]
    check_qa_consistent(gdf, qa)


def test_samples_qa_layout(tmp_path):
    gdf, qa = prepare_samples(survey(tmp_path), crs="EPSG:4283", working_crs="EPSG:28350")
    for key in ("rows_read", "rows_rejected", "values_missing", "values_below_detection", "values_text_to_missing",
                "locations_merged", "elements_kept", "elements_dropped", "crs_in", "crs_out", "row_numbering"):
        assert key in qa
    assert qa["columns_not_used"] == ["SAMPLEID"]
    assert list(gdf.columns) == ["x", "y", "n_merged", "Au", "Cu", "geometry"]
    assert gdf["Au"].dtype == np.float64
    json.dumps(qa)  # plain Python types only: it becomes qa.json


# ---------------------------------------------------------------- vector files and output

def gpkg_survey(tmp_path, crs="EPSG:3067", n=40):
    rng = np.random.default_rng(1)
    frame = gpd.GeoDataFrame(
        {"Cu_ppm_511": rng.uniform(5, 80, n), "Zr_ppm_511": np.r_[np.zeros(5), rng.uniform(1, 9, n - 5)],
         "Cu_511P_T": [None] * n, "Easting": 400000.0 + np.arange(n) * 500, "Northing": 7500000.0},
        geometry=[Point(400000 + i * 500, 7500000) for i in range(n)], crs=crs)
    path = tmp_path / "till.gpkg"
    frame.to_file(path, layer="till", driver="GPKG")
    return path


def test_vector_file_coordinates_come_from_point_geometry(tmp_path):
    path = gpkg_survey(tmp_path)
    table = read_table(path)
    assert {"geometry_x", "geometry_y", "Cu_ppm_511"} <= set(table.columns)
    assert table.attrs["crs"] == "EPSG:3067" and table.attrs["layer"] == "till"
    gdf, qa = prepare_samples(path, crs="EPSG:4326", working_crs="EPSG:3067")
    assert qa["coordinates"]["source"] == "geometry"
    assert qa["crs_in"] == "EPSG:3067" and "EPSG:4326" in qa["crs_in_note"]
    assert qa["row_numbering"].startswith("feature number")
    assert gdf.attrs["units"] == {"Cu": "ppm", "Zr": "ppm"}
    assert qa["elements_kept"]["Cu"]["source_columns"][0]["method"] == "511"
    assert qa["values_below_detection"]["counts"]["Zr"]["limit_not_given"] == 5
    assert "Cu_511P_T" in qa["columns_not_used"]
    np.testing.assert_allclose(gdf["x"], 400000.0 + np.arange(40) * 500)


def test_vector_file_with_coordinate_columns(tmp_path):
    path = gpkg_survey(tmp_path)
    gdf, qa = prepare_samples(path, x_column="Easting", y_column="Northing", working_crs="EPSG:3067", layer="till")
    assert qa["coordinates"] == {"x_column": "Easting", "y_column": "Northing", "source": "columns"}
    assert qa["crs_in"] == "EPSG:3067"  # no crs given: the file's CRS applies to its columns too
    assert len(gdf) == 40


def test_write_points_round_trip(tmp_path):
    gdf, _ = prepare_samples(survey(tmp_path), crs="EPSG:4283", working_crs="EPSG:28350")
    out = tmp_path / "prepare" / "samples.gpkg"
    write_points(gdf, out)
    back = gpd.read_file(out)
    assert back.crs.to_epsg() == 28350 and len(back) == len(gdf)
    np.testing.assert_allclose(back["Au"], gdf["Au"])
    assert "x" not in back.columns  # the geometry holds the coordinates
    again = read_points(out)
    assert again.attrs["units"] == {"Au": "ppb", "Cu": "ppm"}
    np.testing.assert_allclose(again[["x", "y"]], gdf[["x", "y"]])
    assert again["n_merged"].tolist() == gdf["n_merged"].tolist()
    assert pyogrio.list_layers(out)[0][0] == "samples"
    assert sorted(p.name for p in out.parent.iterdir()) == ["samples.gpkg"]


def test_sites_duplicates_merged_and_attributes_are_text(tmp_path):
    path = write_csv(tmp_path / "sites.csv", ["X", "Y", "NAME", "TYPE", "YEAR"], [
        [117.9, -33.5, "Dingo", "Mine", 1990], [117.9, -33.5, "Dingo North", "Mine", 1991],
        [118.0, -33.6, "Jinkas", "Prospect", ""]])
    gdf, qa = prepare_sites(path, crs="EPSG:4283", working_crs="EPSG:28350")
    assert len(gdf) == 2 and gdf["n_merged"].tolist() == [2, 1]
    assert gdf["NAME"].tolist() == ["Dingo; Dingo North", "Jinkas"]
    assert gdf["TYPE"].tolist() == ["Mine", "Prospect"] and gdf["YEAR"].tolist() == ["1990; 1991", ""]
    assert qa["locations_merged"]["rows_merged_away"] == 1 and qa["rows_read"] == 3
    assert gdf.crs.to_epsg() == 28350


def test_sites_from_a_geopackage_in_their_own_crs(tmp_path):
    found = pd.to_datetime(["2001-02-03", None])
    frame = gpd.GeoDataFrame({"Name": ["A", "B"], "Depth_m": [100.0, 2.5], "Found": found},
                             geometry=[Point(24.0, 67.5), Point(24.1, 67.6)], crs="EPSG:4326")
    path = tmp_path / "sites.gpkg"
    frame.to_file(path, driver="GPKG")
    gdf, qa = prepare_sites(path, x_column=None, y_column=None, working_crs="EPSG:3067")
    assert qa["crs_in"] == "EPSG:4326" and qa["crs_out"] == "EPSG:3067"
    assert gdf["Depth_m"].tolist() == ["100", "2.5"] and gdf["Found"].tolist() == ["2001-02-03", ""]
    assert 3e5 < gdf["x"].iloc[0] < 5e5


def test_semicolon_separated_latin1_csv(tmp_path):
    path = tmp_path / "s.csv"
    lines = ["X;Y;Kommentar;Cu_ppm"] + [f"{117.5 + i * 0.01};-33.5;Pr\xf6be;{i + 1}" for i in range(30)]
    path.write_bytes("\n".join(lines).encode("latin-1"))
    gdf, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350")
    assert len(gdf) == 30 and gdf["Cu"].tolist() == [float(i + 1) for i in range(30)]


def test_yttrium_and_the_y_coordinate_share_a_geopackage(tmp_path):
    path = write_csv(tmp_path / "s.csv", ["X", "Y", "Y_ppm"], [[117.5 + i * 0.01, -33.5, 20 + i] for i in range(30)])
    gdf, _ = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350")
    assert list(gdf.columns) == ["x", "y", "n_merged", "Y", "geometry"]
    write_points(gdf, tmp_path / "samples.gpkg")
    back = read_points(tmp_path / "samples.gpkg")
    np.testing.assert_allclose(back["Y"], gdf["Y"])
    np.testing.assert_allclose(back["y"], gdf["y"])


def test_text_fields_of_a_vector_file_keep_detection_limit_strings(tmp_path):
    n = 35
    values = ["<5", "12", "unreadable", "7"] + [str(10 + i) for i in range(n - 4)]
    frame = gpd.GeoDataFrame({"Au_ppb": values}, geometry=[Point(24 + i * 0.01, 67.5) for i in range(n)],
                             crs="EPSG:4326")
    path = tmp_path / "soil.gpkg"
    frame.to_file(path, driver="GPKG")
    gdf, qa = prepare_samples(path, x_column=None, y_column=None, working_crs="EPSG:32635")
    assert gdf["Au"].iloc[0] == pytest.approx(2.5)
    assert qa["values_text_to_missing"]["Au"]["examples"] == [{"row": 3, "column": "Au_ppb", "value": "unreadable"}]


def test_repeated_header_names_are_reported(tmp_path):
    path = write_csv(tmp_path / "s.csv", ["X", "Y", "Cu_ppm", "Cu_ppm"],
                     [[117.5 + i * 0.01, -33.5, i + 1, i + 2] for i in range(30)])
    gdf, qa = prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:28350")
    assert qa["columns_renamed"] == {"Cu_ppm.1": "Cu_ppm"}
    assert set(qa["elements_kept"]) == {"Cu", "Cu_1"}  # never averaged together silently
