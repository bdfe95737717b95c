"""Bad surveys: each gives an InputError naming file, column and row, or a counted repair in the QA."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from pipeline.errors import InputError
from pipeline.prepare import (prepare_samples, prepare_sites, samples_summary, sites_outside_samples,
                              sites_summary)
from pipeline.survey_io import site_names

LONLAT = {"crs": "EPSG:4283", "working_crs": "EPSG:28350"}


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(str(v) for v in row) for row in rows]) + "\n")
    return path


def lonlat_rows(n=40, au="0.01", cu=None):
    return [[f"{117.5 + i * 0.001:.4f}", f"{-33.5 - i * 0.001:.4f}", au, cu if cu is not None else str(10 + i)]
            for i in range(n)]


def survey(tmp_path, rows, header=("X", "Y", "Au_ppm", "Cu_ppm")):
    return write_csv(tmp_path / "survey.csv", list(header), rows)


def test_missing_coordinate_columns_lists_the_available_columns(tmp_path):
    path = survey(tmp_path, lonlat_rows(), header=("Longitude", "Latitude", "Au_ppm", "Cu_ppm"))
    with pytest.raises(InputError) as err:
        prepare_samples(path, **LONLAT)
    message = str(err.value)
    assert str(path) in message and "'X'" in message
    assert "Longitude, Latitude, Au_ppm, Cu_ppm" in message
    assert err.value.column == "X"


def test_rows_with_unusable_coordinates_are_rejected_by_spreadsheet_row(tmp_path):
    rows = lonlat_rows() + [["", "-33.6", "0.01", "5"], ["abc", "-33.6", "0.01", "5"],
                            ["117.6", "inf", "0.01", "5"], ["17.6", "-33.6", "0.01", "5"]]
    gdf, qa = prepare_samples(survey(tmp_path, rows), **LONLAT)
    rejected = qa["rows_rejected"]
    assert rejected["count"] == 4 and len(gdf) == 40
    assert [(r["row"], r["column"]) for r in rejected["rows"]] == [(42, "X"), (43, "X"), (44, "Y"), (45, "X, Y")]
    assert [r["reason"] for r in rejected["rows"][:3]] == [
        "missing coordinate", "coordinate is not a number", "coordinate is not finite"]
    assert rejected["rows"][3]["reason"].startswith("outside the area of use of EPSG:4283")
    assert rejected["rows"][1]["value"] == "abc, -33.6"
    assert "header is row 1" in qa["row_numbering"]
    assert qa["rows_read"] == 44 == qa["rows_kept"] + rejected["count"]


def test_all_coordinates_outside_the_crs_area_is_an_error(tmp_path):
    rows = [[f"{10 + i * 0.01}", "50.0", "0.01", "5"] for i in range(40)]  # Europe, declared GDA94
    with pytest.raises(InputError, match="area of use of EPSG:4283") as err:
        prepare_samples(survey(tmp_path, rows), **LONLAT)
    assert err.value.rows[0] == 2 and str(tmp_path) in str(err.value)


def test_lonlat_declared_as_metres_suggests_a_geographic_crs(tmp_path):
    with pytest.raises(InputError, match="look like longitude/latitude") as err:
        prepare_samples(survey(tmp_path, lonlat_rows()), crs="EPSG:28350", working_crs="EPSG:28350")
    assert "EPSG:4326" in str(err.value) and "EPSG:4283" in str(err.value)


def test_metres_declared_as_lonlat_suggests_a_projected_crs(tmp_path):
    rows = [[500000 + i * 10, 6300000, "0.01", "5"] for i in range(40)]
    with pytest.raises(InputError, match="projected CRS"):
        prepare_samples(survey(tmp_path, rows), **LONLAT)


def test_swapped_lonlat_is_named(tmp_path):
    rows = [[y, x, au, cu] for x, y, au, cu in lonlat_rows()]
    rows = [[r[0], str(float(r[1])), r[2], r[3]] for r in rows]
    rows = [["-33.5", "117.5", "0.01", "5"]] + rows
    with pytest.raises(InputError, match="swapped"):
        prepare_samples(survey(tmp_path, rows), **LONLAT)


def test_requested_text_column_names_column_and_first_rows(tmp_path):
    rows = [r[:3] + ["high" if i % 2 else "low"] for i, r in enumerate(lonlat_rows())]
    path = survey(tmp_path, rows)
    with pytest.raises(InputError) as err:
        prepare_samples(path, elements=["Au", "Cu"], **LONLAT)
    message = str(err.value)
    assert "Cu_ppm" in message and "row 2: 'low'" in message and str(path) in message
    assert err.value.rows[:2] == [2, 3]
    # not requested: the column is dropped with its reason instead
    gdf, qa = prepare_samples(path, **LONLAT)
    assert "text" in qa["elements_dropped"]["Cu"]["reason"] and "Cu" not in gdf.columns


def test_mostly_numeric_column_with_text_is_a_counted_repair(tmp_path):
    rows = lonlat_rows()
    rows[3][3] = "not analysed"
    rows[7][3] = "#VALUE!"
    rows[8][3] = "#VALUE!"
    gdf, qa = prepare_samples(survey(tmp_path, rows), elements=["Au", "Cu"], **LONLAT)
    # "not analysed" is a flag of the table (missing, counted as such); #VALUE! is unknown text
    assert qa["values_text_to_missing"]["Cu"]["count"] == 2
    assert [e["row"] for e in qa["values_text_to_missing"]["Cu"]["examples"]] == [9, 10]
    assert qa["values_text_to_missing"]["Cu"]["values"] == {"#VALUE!": 2}
    assert qa["values_missing"]["Cu"] == {"total": 3, "text": 2, "flagged_not_analysed": 1}
    assert gdf["Cu"].isna().sum() == 3


def test_requested_element_without_valid_values_is_an_error(tmp_path):
    path = survey(tmp_path, lonlat_rows(cu="-9999"))
    with pytest.raises(InputError, match="requested element 'Cu' has no valid values") as err:
        prepare_samples(path, elements=["Au", "Cu"], **LONLAT)
    assert "Cu_ppm" in str(err.value) and "missing_code 40" in str(err.value)
    _, qa = prepare_samples(path, **LONLAT)  # auto-detected: dropped, with the reason
    assert qa["elements_dropped"]["Cu"]["reason"].startswith("no valid values")


def test_requested_element_column_that_does_not_exist(tmp_path):
    path = survey(tmp_path, lonlat_rows())
    with pytest.raises(InputError, match="requested element 'Zn'") as err:
        prepare_samples(path, elements=["Au", "Zn"], **LONLAT)
    assert "Au, Cu" in str(err.value) and str(path) in str(err.value)
    with pytest.raises(InputError, match="no column 'zinc_ppm'"):
        prepare_samples(path, elements={"Zn": "zinc_ppm"}, **LONLAT)


def test_duplicate_coordinates_are_merged_and_counted(tmp_path):
    rows = lonlat_rows() + [r[:] for r in lonlat_rows()[:5]]
    gdf, qa = prepare_samples(survey(tmp_path, rows), **LONLAT)
    assert len(gdf) == 40 and gdf["n_merged"].tolist()[:6] == [2, 2, 2, 2, 2, 1]
    assert qa["locations_merged"]["rows_merged_away"] == 5
    assert qa["locations_merged"]["locations_with_repeats"] == 5


def test_header_only_file(tmp_path):
    path = survey(tmp_path, [])
    with pytest.raises(InputError, match="no data rows") as err:
        prepare_samples(path, **LONLAT)
    assert str(path) in str(err.value)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="0 bytes"):
        prepare_samples(path, **LONLAT)
    with pytest.raises(InputError, match="0 bytes"):
        prepare_sites(path, **LONLAT)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        prepare_samples(tmp_path / "nope.csv", **LONLAT)


def test_no_element_columns(tmp_path):
    path = write_csv(tmp_path / "s.csv", ["X", "Y", "SAMPLEID"], [[117.5, -33.5, "a"]])
    with pytest.raises(InputError, match="no element columns found"):
        prepare_samples(path, **LONLAT)


def test_all_elements_too_sparse(tmp_path):
    with pytest.raises(InputError, match="no element has enough valid values"):
        prepare_samples(survey(tmp_path, lonlat_rows(n=5)), **LONLAT)


def test_missing_crs_and_bad_crs_and_bad_options(tmp_path):
    path = survey(tmp_path, lonlat_rows())
    with pytest.raises(InputError, match="no CRS"):
        prepare_samples(path, working_crs="EPSG:28350")
    with pytest.raises(InputError, match="not a CRS"):
        prepare_samples(path, crs="EPSG:999999", working_crs="EPSG:28350")
    with pytest.raises(InputError, match="projected CRS in metres"):
        prepare_samples(path, crs="EPSG:4283", working_crs="EPSG:4326")
    with pytest.raises(InputError, match="detection_limit_rule"):
        prepare_samples(path, detection_limit_rule="third", **LONLAT)
    with pytest.raises(InputError, match="duplicate_rule"):
        prepare_samples(path, duplicate_rule="max", **LONLAT)
    with pytest.raises(InputError, match="unknown unit"):
        prepare_samples(path, units={"Au": "grams"}, **LONLAT)


def test_working_crs_far_from_the_data(tmp_path):
    with pytest.raises(InputError, match="EPSG:32750"):
        prepare_samples(survey(tmp_path, lonlat_rows()), crs="EPSG:4283", working_crs="EPSG:3067")


def test_polygon_layer_needs_coordinate_columns(tmp_path):
    path = tmp_path / "areas.gpkg"
    gpd.GeoDataFrame({"Cu_ppm": [1.0]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326").to_file(path, driver="GPKG")
    with pytest.raises(InputError, match="not points"):
        prepare_samples(path, x_column=None, y_column=None)


def test_unknown_layer_lists_layers(tmp_path):
    path = tmp_path / "till.gpkg"
    gpd.GeoDataFrame({"Cu_ppm": [1.0]}, geometry=[Point(24, 67)], crs="EPSG:4326").to_file(path, layer="till")
    with pytest.raises(InputError, match="layers in the file: till"):
        prepare_samples(path, layer="soil")


def test_null_geometry_rows_are_rejected(tmp_path):
    n = 40
    geometry = [Point(400000 + i * 100, 7500000) for i in range(n)] + [None]
    frame = gpd.GeoDataFrame({"Cu_ppm": np.arange(n + 1, dtype=float) + 1}, geometry=geometry, crs="EPSG:3067")
    path = tmp_path / "till.gpkg"
    frame.to_file(path, driver="GPKG")
    gdf, qa = prepare_samples(path, x_column=None, y_column=None, working_crs="EPSG:3067")
    assert len(gdf) == n
    assert qa["rows_rejected"]["rows"] == [{"row": 41, "reason": "no point geometry", "column": "geometry",
                                            "value": ""}]


def test_sites_with_bad_rows(tmp_path):
    path = write_csv(tmp_path / "sites.csv", ["X", "Y", "NAME"],
                     [[117.9, -33.5, "Dingo"], ["", -33.5, "Ghost"], [117.8, -33.4, "Jinkas"]])
    gdf, qa = prepare_sites(path, crs="EPSG:4283", working_crs="EPSG:28350")
    assert gdf["NAME"].tolist() == ["Dingo", "Jinkas"]
    assert qa["rows_rejected"]["rows"][0]["row"] == 3
    with pytest.raises(InputError, match="coordinate column not found"):
        prepare_sites(path, x_column="LON", crs="EPSG:4283", working_crs="EPSG:28350")


def test_a_dropped_digit_is_rejected_as_a_spatial_outlier(tmp_path):
    rows = [[400000 + (i % 10) * 1000, 2400000 + (i // 10) * 1000, "1.5", str(i + 1)] for i in range(40)]
    rows.append(["405000", "240500", "1.5", "3"])  # northing lost a digit: still inside UTM zone 49N
    gdf, qa = prepare_samples(survey(tmp_path, rows), crs="EPSG:32649", working_crs="EPSG:32649")
    assert len(gdf) == 40
    rejected = qa["rows_rejected"]["rows"]
    assert [r["row"] for r in rejected] == [42] and "spatial outlier" in rejected[0]["reason"]
    _, qa = prepare_samples(survey(tmp_path, rows), crs="EPSG:32649", working_crs="EPSG:32649", outlier_factor=None)
    assert qa["rows_rejected"]["count"] == 0


def test_repeated_samples_at_one_place_are_no_outliers(tmp_path):
    rows = [["400000", "2400000", "1.5", str(i + 1)] for i in range(30)] + [["401000", "2401000", "1", "2"]]
    gdf, qa = prepare_samples(survey(tmp_path, rows), crs="EPSG:32649", working_crs="EPSG:32649", min_valid=1)
    assert qa["rows_rejected"]["count"] == 0 and len(gdf) == 2


# ------------------------------------------------------------------ issue 12: unusual surveys

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
DEMO_CRS = {"crs": "EPSG:32649", "working_crs": "EPSG:32649"}


def demo_lines(name="samples.csv", n=None):
    lines = (DEMO / name).read_text().splitlines()
    return lines if n is None else lines[:n + 1]


def test_sites_crs_errors_name_sites_crs(tmp_path):
    # sites given in lon/lat while the samples' projected CRS stands in for sites_crs
    path = write_csv(tmp_path / "sites.csv", ["X", "Y", "name"], [[112.5, 22.0, "A"], [112.6, 22.1, "B"]])
    with pytest.raises(InputError) as err:
        prepare_sites(path, crs="EPSG:32649", working_crs="EPSG:32649")
    assert "set sites_crs" in str(err.value) and "set crs" not in str(err.value)
    with pytest.raises(InputError, match="set sites_crs") as err:
        prepare_sites(path, working_crs="EPSG:32649")
    assert err.value.column == "sites_crs"
    with pytest.raises(InputError, match="sites_crs 'EPSG:999999'"):
        prepare_sites(path, crs="EPSG:999999", working_crs="EPSG:32649")


def test_no_numeric_coordinates_quotes_a_cell_and_names_thousands_separators(tmp_path):
    lines = demo_lines(n=50)
    rows = [line.split(",") for line in lines[1:]]
    out = [lines[0]] + [",".join([f'"{int(r[0]):,}"', f'"{int(r[1]):,}"'] + r[2:]) for r in rows]
    path = tmp_path / "samples.csv"
    path.write_text("\n".join(out) + "\n")
    with pytest.raises(InputError) as err:
        prepare_samples(path, **DEMO_CRS)
    message = str(err.value)
    assert "row 2 has X '411,826'" in message and "thousands separators" in message


def european(lines):
    return [line.replace(",", ";").replace(".", ",") for line in lines]


def test_european_export_reads_decimal_commas(tmp_path):
    lines = demo_lines(n=300)
    reference = tmp_path / "points.csv"
    reference.write_text("\n".join(lines) + "\n")
    path = tmp_path / "comma.csv"
    path.write_text("\n".join(european(lines)) + "\n")
    expected, expected_qa = prepare_samples(reference, units={"Au": "ppb", "Hg": "ppb"}, **DEMO_CRS)
    gdf, qa = prepare_samples(path, units={"Au": "ppb", "Hg": "ppb"}, **DEMO_CRS)
    assert list(gdf.columns) == list(expected.columns)  # Ag, Sb, Bi are kept
    for name in ("Au", "Ag", "Sb", "Bi", "Sn"):
        np.testing.assert_allclose(gdf[name], expected[name])
    assert gdf["Au"].iloc[0] == 0.54
    assert qa["decimal_commas"]["columns"]["Au"] == sum("." in line.split(",")[2] for line in lines[1:])
    assert qa["values_missing"]["Au"] == expected_qa["values_missing"]["Au"]


def test_decimal_comma_in_a_comma_delimited_file_when_a_column_has_no_points(tmp_path):
    lines = demo_lines(n=100)
    rows = [line.split(",") for line in lines[1:]]
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join([lines[0]] + [",".join(r[:2] + ['"' + r[2].replace(".", ",") + '"'] + r[3:])
                                            for r in rows]) + "\n")
    gdf, qa = prepare_samples(path, units={"Au": "ppb", "Hg": "ppb"}, min_valid=10, **DEMO_CRS)
    assert gdf["Au"].iloc[0] == 0.54
    assert qa["decimal_commas"]["columns"] == {"Au": sum("." in r[2] for r in rows)}


def test_decimal_commas_and_points_in_one_column_ask_for_the_decimal_setting(tmp_path):
    lines = european(demo_lines(n=100))
    lines[5] = lines[5].replace(",", ".")  # one row exported with decimal points
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match='decimal: ","') as err:
        prepare_samples(path, **DEMO_CRS)
    assert "row 6" in str(err.value) and err.value.column == "Au"
    gdf, _ = prepare_samples(path, decimal=",", units={"Au": "ppb"}, min_valid=10, **DEMO_CRS)
    assert gdf["Au"].iloc[0] == 0.54


def test_ten_percent_of_rows_without_coordinates_is_a_console_warning(tmp_path):
    lines = demo_lines(n=400)
    for i in range(1, len(lines), 10):  # every tenth row: coordinates empty or with thousands separators
        cells = lines[i].split(",")
        lines[i] = ",".join(["", ""] + cells[2:]) if i % 20 == 1 else ",".join(
            [f'"{int(cells[0]):,}"', cells[1]] + cells[2:])
    path = tmp_path / "samples.csv"
    path.write_text("\n".join(lines) + "\n")
    gdf, qa = prepare_samples(path, **DEMO_CRS)
    line, warnings = samples_summary(qa)
    assert line.startswith("samples: 400 rows read, 40 rejected") and "locations written" in line
    assert len(warnings) == 1
    assert "40 of 400 rows (10.0%) rejected" in warnings[0] and "20 missing coordinate" in warnings[0]
    assert "first: row 2;" in warnings[0]
    rows = tmp_path / "one_bad.csv"
    rows.write_text("\n".join(lines[:1] + lines[2:]) + "\n")  # first rejected row has a thousands separator
    _, qa = prepare_samples(rows, **DEMO_CRS)
    assert "thousands separators" in samples_summary(qa)[1][0]
    # the clean demo: a summary line, and only the note on its field duplicates whose values differ
    warnings = samples_summary(prepare_samples(DEMO / "samples.csv", **DEMO_CRS)[1])[1]
    assert len(warnings) == 1 and warnings[0].startswith("samples: repeated locations whose values differ")


def test_an_element_named_in_the_config_and_dropped_is_a_warning(tmp_path):
    lines = demo_lines(n=100)  # Cu is the sixth column
    lines = [lines[0]] + [",".join(line.split(",")[:5] + ["-9999" if i != 3 else "12"] + line.split(",")[6:])
                          for i, line in enumerate(lines[1:])]  # one valid Cu value
    path = tmp_path / "samples.csv"
    path.write_text("\n".join(lines) + "\n")
    _, qa = prepare_samples(path, elements=["Au", "Cu"], min_valid=10, **DEMO_CRS)
    line, warnings = samples_summary(qa, requested=True)
    assert "1 dropped (Cu)" in line
    assert warnings == ["samples: element 'Cu', named in the config, was dropped: only 1 valid locations "
                        "(min_valid = 10)"]


def test_half_the_sites_outside_the_survey_is_a_console_warning(tmp_path):
    samples, _ = prepare_samples(DEMO / "samples.csv", **DEMO_CRS)
    lines = demo_lines("sites.csv")
    moved = [lines[0]] + [",".join([str(int(line.split(",")[0]) + 200000)] + line.split(",")[1:]) if i % 2 else line
                          for i, line in enumerate(lines[1:])]
    path = tmp_path / "sites.csv"
    path.write_text("\n".join(moved) + "\n")
    sites, qa = prepare_sites(path, **DEMO_CRS)
    outside = sites_outside_samples(sites, samples)
    line, warnings = sites_summary(qa, int(outside.sum()), site_names(sites, outside))
    assert "40 rows read" in line and "20 inside the samples' extent" in line
    names = [row.split(",")[2] for row in lines[2::2]]
    assert warnings == [f"sites: 20 of 40 sites lie outside the samples' extent (no sample near them to label or "
                        f"map): {', '.join(names[:5])} (and 15 more); check sites_crs and the sites file"]


def twin_gold(tmp_path, ppm_of):
    """Demo rows with Au in Au_ppb, ">2" above 2 ppb, and Au_ppm from ``ppm_of(ppb value, capped)``."""
    lines = demo_lines(n=300)
    header = lines[0].split(",")
    out = [",".join(["X", "Y", "Au_ppb", "Au_ppm"] + header[3:])]
    for line in lines[1:]:
        cells = line.split(",")
        au = float(cells[2]) if cells[2] else None
        twins = [">2" if au > 2 else cells[2], ppm_of(au, au > 2)] if au is not None else ["", ""]
        out.append(",".join(cells[:2] + twins + cells[3:]))
    path = tmp_path / "twins.csv"
    path.write_text("\n".join(out) + "\n")
    return path


def test_an_over_limit_flag_gives_way_to_the_measured_twin(tmp_path):
    reference = tmp_path / "points.csv"
    reference.write_text("\n".join(demo_lines(n=300)) + "\n")
    expected, _ = prepare_samples(reference, units={"Au": "ppb", "Hg": "ppb"}, **DEMO_CRS)
    # the re-assays (ppm) exist only for the rows over the ppb column's upper limit
    path = twin_gold(tmp_path, lambda au, capped: f"{au / 1000:g}" if capped else "")
    gdf, qa = prepare_samples(path, units={"Hg": "ppb"}, **DEMO_CRS)
    capped = int((expected["Au"] > 2).sum())
    assert capped > 10
    np.testing.assert_allclose(gdf["Au"], expected["Au"])
    assert gdf["Au"].max() == expected["Au"].max() > 3
    assert qa["twin_columns"]["Au"]["censored_replaced_by_measured"] == capped


def test_a_ppm_column_holding_ppb_numbers_is_caught_by_its_twin(tmp_path):
    path = twin_gold(tmp_path, lambda au, capped: f"{au:g}")  # 'Au_ppm' holds the ppb numbers
    with pytest.raises(InputError, match="median ratio 1000") as err:
        prepare_samples(path, units={"Hg": "ppb"}, **DEMO_CRS)
    assert "Au_ppb" in str(err.value) and err.value.column == "Au_ppm" and "elements" in str(err.value)
