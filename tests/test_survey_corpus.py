"""A corpus of malformed variants of the demo survey, as surveys come from labs
and archives: each either gives the counted repair, with the element's raster
within a stated tolerance of the clean survey's, or stops with an InputError
that names what to fix.

Raster tolerance: IDW of log10 values on a 48 x 48 grid over the survey; the
repaired survey's raster may differ from the clean one's by at most 0.01
decades on average and 0.25 decades at its 99.5th percentile cell (a repaired
sample moves its own neighbourhood a little; a painted code or typo moves it
by orders of magnitude)."""

import re

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.grid import grid_from_settings
from pipeline.idw import idw_array
from pipeline.prepare import prepare_samples
from workflow_helpers import REPO

DEMO = REPO / "data" / "demo" / "samples.csv"
OPTIONS = dict(x_column="X", y_column="Y", crs="EPSG:32649", working_crs="EPSG:32649",
               units={"Au": "ppb", "Hg": "ppb"})
MEAN_TOL, TAIL_TOL = 0.01, 0.25


@pytest.fixture(scope="module")
def demo_table():
    return pd.read_csv(DEMO, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def clean(demo_table, tmp_path_factory):
    path = tmp_path_factory.mktemp("clean") / "samples.csv"
    demo_table.to_csv(path, index=False)
    gdf, qa = prepare_samples(path, **OPTIONS)
    xy = np.c_[gdf["x"], gdf["y"]]
    grid = grid_from_settings("EPSG:32649", (xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()),
                              width=48, height=48)
    return gdf, qa, grid


def raster(gdf, element, grid):
    v = gdf[element].to_numpy(dtype=float)
    ok = np.isfinite(v) & (v > 0)
    return idw_array(np.c_[gdf["x"], gdf["y"]][ok], np.log10(v[ok])[:, None], [element], grid)[0]


def assert_raster_close(gdf, clean, element):
    reference, _, grid = clean
    a, b = raster(gdf, element, grid), raster(reference, element, grid)
    diff = np.abs(a - b)[np.isfinite(a) & np.isfinite(b)]
    assert diff.mean() <= MEAN_TOL and np.quantile(diff, 0.995) <= TAIL_TOL, (diff.mean(), np.quantile(diff, 0.995))


def numbers(table, column):
    return pd.to_numeric(table[column], errors="coerce")


def rows_at(table, seed, size, column=None):
    """Random rows (index labels), among those holding a positive number in ``column``."""
    pool = np.arange(len(table)) if column is None else np.flatnonzero(numbers(table, column) > 0)
    return np.random.default_rng(seed).choice(pool, size, replace=False)


def top_row(table, column):
    return int(numbers(table, column).idxmax())


def missing(qa, column, cause):
    return qa["values_missing"][column].get(cause, 0)


def write(table, path, **kw):
    table.to_csv(path, index=False, **kw)
    return path


def variant(demo_table, tmp_path, edit, name="samples.csv", **kw):
    """``edit`` changes a copy of the table in place or returns a new one."""
    table = demo_table.copy()
    edited = edit(table)
    return write(table if edited is None else edited, tmp_path / name, **kw)


def setter(column, rows, value):
    def edit(table):
        table.loc[rows, column] = value
    return edit


def scaled(column, rows, factor):
    def edit(table):
        table.loc[rows, column] = [f"{float(v) * factor:g}" for v in table.loc[rows, column]]
    return edit


def _repeat(rows, edit=None):
    """The table with copies of ``rows`` appended (changed by ``edit``)."""
    def change(table):
        extra = table.loc[rows].copy()
        if edit:
            edit(extra)
        return pd.concat([table, extra], ignore_index=True)
    return change


# ------------------------------------------------------------ missing-value codes

@pytest.mark.parametrize("column, value, count", [("Cu", "99999", 50), ("Au", "9999", 3), ("Zn", "1000000", 20)])
def test_positive_codes_repeated_far_above_the_column_are_guessed(demo_table, clean, tmp_path, column, value, count):
    rows = rows_at(demo_table, 1, count, column)
    gdf, qa = prepare_samples(variant(demo_table, tmp_path, setter(column, rows, value)), **OPTIONS)
    guessed = qa["missing_codes_guessed"]["elements"][column]
    assert guessed[0]["value"] == float(value) and guessed[0]["rows"] == count
    before = clean[1]
    assert missing(qa, column, "missing_code_guessed") - missing(before, column, "missing_code_guessed") == count
    assert (qa["element_summary"][column]["codes_removed"]
            - before["element_summary"][column]["codes_removed"]) == count
    assert_raster_close(gdf, clean, column)


@pytest.mark.parametrize("column, value, count", [("Pb", "-99", 30), ("As", "-999999", 10)])
def test_negative_nines_are_codes_not_limits(demo_table, clean, tmp_path, column, value, count):
    rows = rows_at(demo_table, 2, count, column)
    gdf, qa = prepare_samples(variant(demo_table, tmp_path, setter(column, rows, value)), **OPTIONS)
    before = clean[1]
    assert missing(qa, column, "missing_code_guessed") - missing(before, column, "missing_code_guessed") == count
    assert (qa["values_below_detection"]["counts"].get(column, {}).get("count", 0)
            == before["values_below_detection"]["counts"].get(column, {}).get("count", 0))
    assert_raster_close(gdf, clean, column)


def test_text_code_of_the_flag_table_is_not_analysed(demo_table, clean, tmp_path):
    rows = rows_at(demo_table, 3, 15, "Mo")
    gdf, qa = prepare_samples(variant(demo_table, tmp_path, setter("Mo", rows, "I.S.")), **OPTIONS)
    assert qa["values_missing"]["Mo"]["flagged_not_analysed"] == 15
    assert_raster_close(gdf, clean, "Mo")


def test_a_code_the_config_lists_is_forced(demo_table, clean, tmp_path):
    rows = rows_at(demo_table, 4, 10, "Ba")
    path = variant(demo_table, tmp_path, setter("Ba", rows, "12345.6"))
    gdf, qa = prepare_samples(path, missing_codes=[-9999, 12345.6], **OPTIONS)
    assert missing(qa, "Ba", "missing_code") - missing(clean[1], "Ba", "missing_code") == 10
    assert_raster_close(gdf, clean, "Ba")


def test_guessing_off_keeps_the_code_as_a_value_and_says_nothing_was_guessed(demo_table, tmp_path):
    rows = rows_at(demo_table, 5, 50)
    path = variant(demo_table, tmp_path, setter("Cu", rows, "99999"))
    gdf, qa = prepare_samples(path, guess_missing_codes=False, **OPTIONS)
    assert qa["missing_codes_guessed"] == {**qa["missing_codes_guessed"], "on": False, "elements": {}}
    assert (gdf["Cu"] == 99999).sum() > 0


def test_zeros_as_not_analysed_when_the_config_says_so(demo_table, clean, tmp_path):
    rows = rows_at(demo_table, 6, 25, "Cu")
    path = variant(demo_table, tmp_path, setter("Cu", rows, "0"))
    gdf, qa = prepare_samples(path, zero_means="missing", **OPTIONS)
    assert missing(qa, "Cu", "missing_code") - missing(clean[1], "Cu", "missing_code") == 25
    assert_raster_close(gdf, clean, "Cu")
    # read as below an unstated limit by default, and counted as such
    gdf, qa = prepare_samples(path, **OPTIONS)
    before = clean[1]["values_below_detection"]["counts"].get("Cu", {}).get("limit_not_given", 0)
    assert qa["values_below_detection"]["counts"]["Cu"]["limit_not_given"] - before == 25


# ------------------------------------------------------------ gross outliers

# factors that keep the typo under 100 % (above it, the value is set missing as over_100_percent)
@pytest.mark.parametrize("column, factor", [("Au", 1000.0), ("Cu", 1000.0), ("Pb", 100.0)])
def test_a_unit_or_typing_error_is_flagged_and_capped(demo_table, clean, tmp_path, column, factor):
    row = top_row(demo_table, column)
    path = variant(demo_table, tmp_path, scaled(column, [row], factor))
    gdf, qa = prepare_samples(path, **OPTIONS)
    found = qa["gross_outliers"]["elements"][column]
    assert [f["row"] for f in found] == [row + 2] and found[0]["times_largest_kept"] >= 10
    kept_max = found[0]["capped_to"]
    assert gdf[column].max() == pytest.approx(kept_max)
    gdf, qa = prepare_samples(path, outliers="exclude", **OPTIONS)
    assert missing(qa, column, "gross_outlier") == 1
    assert_raster_close(gdf, clean, column)


def test_kept_outliers_are_still_listed(demo_table, tmp_path):
    row = top_row(demo_table, "Zn")
    gdf, qa = prepare_samples(variant(demo_table, tmp_path, scaled("Zn", [row], 100.0)), outliers="keep", **OPTIONS)
    assert qa["gross_outliers"]["elements"]["Zn"][0]["row"] == row + 2
    assert gdf["Zn"].max() == pytest.approx(float(demo_table.loc[row, "Zn"]) * 100)


def test_a_strong_anomaly_with_neighbours_is_not_an_outlier(demo_table, tmp_path):
    row = top_row(demo_table, "Cu")
    gdf, qa = prepare_samples(variant(demo_table, tmp_path, scaled("Cu", [row], 5.0)), **OPTIONS)
    assert "Cu" not in qa["gross_outliers"]["elements"]


def test_two_typos_in_one_element_are_both_flagged(demo_table, clean, tmp_path):
    rows = rows_at(demo_table, 7, 2, "As")
    path = variant(demo_table, tmp_path, scaled("As", rows, 1e5))
    gdf, qa = prepare_samples(path, outliers="exclude", **OPTIONS)
    assert sorted(f["row"] for f in qa["gross_outliers"]["elements"]["As"]) == sorted(int(r) + 2 for r in rows)
    assert_raster_close(gdf, clean, "As")


def test_a_repeated_typo_is_a_code_and_a_single_one_an_outlier(demo_table, tmp_path):
    row = int(rows_at(demo_table, 8, 1, "Cu")[0])
    gdf, qa = prepare_samples(variant(demo_table, tmp_path, setter("Cu", [row], "99999")), **OPTIONS)
    assert "Cu" not in qa["missing_codes_guessed"]["elements"]
    assert qa["gross_outliers"]["elements"]["Cu"][0]["value"] == 99999


# ------------------------------------------------------------ duplicates

def test_exact_repeats_are_merged_without_conflict(demo_table, clean, tmp_path):
    rows = rows_at(demo_table, 9, 20, "Cu")
    gdf, qa = prepare_samples(variant(demo_table, tmp_path, _repeat(rows)), **OPTIONS)
    clean_gdf, clean_qa, _ = clean
    assert qa["locations_merged"]["rows_merged_away"] == clean_qa["locations_merged"]["rows_merged_away"] + 20
    assert qa["locations_merged"]["conflicting_locations"] == clean_qa["locations_merged"]["conflicting_locations"]
    assert len(gdf) == len(clean_gdf)


def test_conflicting_repeats_are_counted_and_listed(demo_table, clean, tmp_path):
    rows = rows_at(demo_table, 10, 10, "Sb")

    def triple(extra):
        extra["Sb"] = [f"{float(v) * 3:g}" for v in extra["Sb"]]

    gdf, qa = prepare_samples(variant(demo_table, tmp_path, _repeat(rows, triple)), **OPTIONS)
    before = clean[1]["locations_merged"]["conflicting_locations"].get("Sb", 0)
    assert qa["locations_merged"]["conflicting_locations"]["Sb"] == before + 10
    listed = [c for c in qa["locations_merged"]["conflicts"] if c["element"] == "Sb"]
    assert {int(r) + 2 for r in rows} <= {row for c in listed for row in c["rows"]}
    assert qa["element_summary"]["Sb"]["conflicting_repeats"] == before + 10


def test_duplicate_rule_error_stops_on_conflicts_and_names_the_rows(demo_table, tmp_path):
    rows = rows_at(demo_table, 11, 3, "Cu")

    def triple(extra):
        extra["Cu"] = [f"{float(v) * 3:g}" for v in extra["Cu"]]

    path = variant(demo_table, tmp_path, _repeat(rows, triple))
    with pytest.raises(InputError, match=r"duplicate_rule is 'error'.*raise prepare.duplicate_tolerance") as err:
        prepare_samples(path, duplicate_rule="error", **OPTIONS)
    assert "samples.csv" in str(err.value) and re.search(r"rows? \d+", str(err.value))


def test_duplicate_rule_error_passes_equal_repeats(tmp_path, demo_table):
    table = demo_table.drop_duplicates(subset=["X", "Y"], keep=False).head(400).reset_index(drop=True)
    path = variant(table, tmp_path, _repeat([0, 5, 9]))
    gdf, qa = prepare_samples(path, duplicate_rule="error", **OPTIONS)
    assert qa["locations_merged"]["rows_merged_away"] == 3 and qa["locations_merged"]["conflicts"] == []


# ------------------------------------------------------------ text flags

@pytest.mark.parametrize("column, flag, kind", [("Au", "n.d.", "below"), ("Ag", "tr", "below"),
                                                ("Hg", "ND", "below"), ("W", "L.N.R.", "missing"),
                                                ("Sn", "-", "empty"), ("Bi", ">", "above")])
def test_lab_qualifiers_are_read_by_the_flag_table(demo_table, clean, tmp_path, column, flag, kind):
    rows = rows_at(demo_table, 12, 30, column)
    gdf, qa = prepare_samples(variant(demo_table, tmp_path, setter(column, rows, flag)), **OPTIONS)
    before = clean[1]
    if kind == "below":
        count = lambda q: q["values_below_detection"]["counts"].get(column, {}).get("limit_not_given", 0)  # noqa: E731
        assert count(qa) - count(before) == 30
    else:
        cause = {"missing": "flagged_not_analysed", "empty": "empty_or_NA", "above": "above_limit_no_value"}[kind]
        assert missing(qa, column, cause) - missing(before, column, cause) == 30
    assert column not in qa["values_text_to_missing"]
    if kind != "below":
        assert_raster_close(gdf, clean, column)


def test_unknown_text_is_counted_per_value(demo_table, tmp_path):
    rows = rows_at(demo_table, 13, 10, "Cu")
    table = demo_table.copy()
    table.loc[rows[:7], "Cu"] = "see lab"
    table.loc[rows[7:], "Cu"] = "#VALUE!"
    gdf, qa = prepare_samples(write(table, tmp_path / "s.csv"), **OPTIONS)
    assert qa["values_text_to_missing"]["Cu"]["values"] == {"see lab": 7, "#VALUE!": 3}


def test_a_flag_added_in_the_config(demo_table, tmp_path):
    rows = rows_at(demo_table, 14, 12, "Pb")
    path = variant(demo_table, tmp_path, setter("Pb", rows, "<<DL"))
    gdf, qa = prepare_samples(path, text_flags={"<<dl": "below"}, **OPTIONS)
    assert qa["values_below_detection"]["counts"]["Pb"]["limit_not_given"] == 12
    with pytest.raises(InputError, match="text_flags.*'<<dl' maps to 'sort of'"):
        prepare_samples(path, text_flags={"<<dl": "sort of"}, **OPTIONS)


# ------------------------------------------------------------ encoding

def _with_notes(table, notes):
    out = table.copy()
    out["Note"] = notes
    return out


def test_a_latin1_file_is_read_whole_as_latin1(demo_table, clean, tmp_path):
    notes = [""] * len(demo_table)
    notes[-3] = "rivière"
    path = tmp_path / "latin1.csv"
    _with_notes(demo_table, notes).to_csv(path, index=False, encoding="latin-1")
    gdf, qa = prepare_samples(path, **OPTIONS)
    assert qa["encoding"]["name"] == "latin-1" and "no UTF-8 character" in qa["encoding"]["reason"]
    assert len(gdf) == len(clean[0])


def test_utf8_with_a_bad_byte_late_in_the_file_names_line_and_byte(demo_table, tmp_path):
    notes = [""] * len(demo_table)
    notes[0] = "Müller"
    path = tmp_path / "mixed.csv"
    _with_notes(demo_table, notes).to_csv(path, index=False, encoding="utf-8")
    data = path.read_bytes()
    cut = data.rfind(b"\n", 0, len(data) - 10)
    path.write_bytes(data[:cut] + b"\n" + b"\xe9" + data[cut + 1:])
    line = data[:cut].count(b"\n") + 2
    with pytest.raises(InputError, match=rf"line {line}, byte {cut + 1} .*byte 0xe9 is not UTF-8.*encoding"):
        prepare_samples(path, **OPTIONS)
    gdf, qa = prepare_samples(path, encoding="latin-1", **OPTIONS)
    assert qa["encoding"]["name"] == "latin-1"


def test_a_wrong_encoding_key_names_the_key(demo_table, tmp_path):
    notes = [""] * len(demo_table)
    notes[10] = "é"
    path = tmp_path / "latin1.csv"
    _with_notes(demo_table, notes).to_csv(path, index=False, encoding="latin-1")
    with pytest.raises(InputError, match=r"line 12, .*encoding key says 'utf-8'"):
        prepare_samples(path, encoding="utf-8", **OPTIONS)


# ------------------------------------------------------------ combinations

def test_codes_outliers_flags_and_repeats_in_one_file(demo_table, clean, tmp_path):
    rows = rows_at(demo_table, 15, 80, "Cu")
    rows = rows[np.asarray(numbers(demo_table, "Au").iloc[rows] > 0)]
    table = demo_table.copy()
    table.loc[rows[:40], "Cu"] = "99999"
    table.loc[rows[40:60], "Au"] = "n.d."
    typo = top_row(table, "Zn")
    table.loc[typo, "Zn"] = f"{float(table.loc[typo, 'Zn']) * 100:g}"
    table = _repeat(rows[60:70])(table)
    before = clean[1]
    gdf, qa = prepare_samples(write(table, tmp_path / "s.csv"), outliers="exclude", **OPTIONS)
    assert missing(qa, "Cu", "missing_code_guessed") - missing(before, "Cu", "missing_code_guessed") == 40
    au = lambda q: q["values_below_detection"]["counts"].get("Au", {}).get("limit_not_given", 0)  # noqa: E731
    assert au(qa) - au(before) == 20
    assert qa["gross_outliers"]["elements"]["Zn"][0]["row"] == typo + 2
    assert qa["locations_merged"]["rows_merged_away"] == before["locations_merged"]["rows_merged_away"] + 10
    for element in ("Cu", "Zn"):
        assert_raster_close(gdf, clean, element)


def test_decimal_commas_with_flags_in_a_semicolon_file(demo_table, clean, tmp_path):
    rows = rows_at(demo_table, 16, 25, "Mo")
    table = demo_table.copy()
    for column in ("Au", "Mo", "Bi"):
        table[column] = table[column].str.replace(".", ",", regex=False)
    table.loc[rows, "Mo"] = "n.d."
    path = write(table, tmp_path / "s.csv", sep=";")
    gdf, qa = prepare_samples(path, **OPTIONS)
    assert qa["decimal_commas"]["cells_read_with_decimal_comma"] > 0
    mo = lambda q: q["values_below_detection"]["counts"].get("Mo", {}).get("limit_not_given", 0)  # noqa: E731
    assert mo(qa) - mo(clean[1]) == 25
    assert_raster_close(gdf, clean, "Au")


def test_latin1_file_with_a_code_and_a_typo(demo_table, clean, tmp_path):
    rows = rows_at(demo_table, 17, 30, "Ba")
    table = demo_table.copy()
    table.loc[rows, "Ba"] = "99999"
    typo = top_row(table, "Ag")
    table.loc[typo, "Ag"] = f"{float(table.loc[typo, 'Ag']) * 5000:g}"
    notes = [""] * len(table)
    notes[100] = "côte"
    path = tmp_path / "s.csv"
    _with_notes(table, notes).to_csv(path, index=False, encoding="latin-1")
    gdf, qa = prepare_samples(path, outliers="exclude", **OPTIONS)
    assert qa["encoding"]["name"] == "latin-1"
    assert missing(qa, "Ba", "missing_code_guessed") - missing(clean[1], "Ba", "missing_code_guessed") == 30
    assert qa["gross_outliers"]["elements"]["Ag"][0]["row"] == typo + 2
    for element in ("Ba", "Ag"):
        assert_raster_close(gdf, clean, element)


# ------------------------------------------------------------ stops that name the fix

def test_a_missing_coordinate_column_names_the_key(demo_table, tmp_path):
    path = variant(demo_table, tmp_path, lambda t: t.rename(columns={"X": "EAST"}))
    with pytest.raises(InputError, match="set the dataset's x_column"):
        prepare_samples(path, **OPTIONS)


def test_bad_options_name_their_key(demo_table, tmp_path):
    path = write(demo_table, tmp_path / "s.csv")
    with pytest.raises(InputError, match="prepare.outliers"):
        prepare_samples(path, outliers="paint", **OPTIONS)
    with pytest.raises(InputError, match="prepare.zero_means"):
        prepare_samples(path, zero_means="zero", **OPTIONS)
    with pytest.raises(InputError, match="duplicate_rule"):
        prepare_samples(path, duplicate_rule="max", **OPTIONS)


def test_a_workbook_says_which_sheet_it_read(demo_table, tmp_path):
    import pyogrio

    path = tmp_path / "survey.xlsx"
    notes = pd.DataFrame({"note": ["exported 1998"]})
    pyogrio.write_dataframe(notes, path, layer="notes", driver="XLSX")
    table = demo_table.head(200).apply(pd.to_numeric, errors="coerce")
    pyogrio.write_dataframe(table, path, layer="assays", driver="XLSX", append=True)
    with pytest.raises(InputError, match="coordinate column not found"):
        prepare_samples(path, **OPTIONS)      # the first sheet holds notes only
    gdf, qa = prepare_samples(path, layer="assays", **OPTIONS)
    assert len(gdf) > 100 and qa["layer_note"] is None
    with pytest.raises(InputError, match="no layer 'assay'; layers in the file: notes, assays"):
        prepare_samples(path, layer="assay", **OPTIONS)
    pyogrio.write_dataframe(table, tmp_path / "first.xlsx", layer="assays", driver="XLSX")
    pyogrio.write_dataframe(notes, tmp_path / "first.xlsx", layer="notes", driver="XLSX", append=True)
    gdf, qa = prepare_samples(tmp_path / "first.xlsx", **OPTIONS)
    assert "read layer 'assays', the first of 2" in qa["layer_note"]


def test_a_sample_id_at_two_locations_is_listed_and_can_stop(demo_table, tmp_path):
    from pipeline.prepare import write_duplicates

    table = demo_table.copy()
    table.insert(0, "SAMPLE", [f"S{i}" for i in range(len(table))])
    table.loc[[10, 20, 30], "SAMPLE"] = "S5"
    path = write(table, tmp_path / "ids.csv")
    gdf, qa = prepare_samples(path, id_column="SAMPLE", **OPTIONS)
    same = qa["locations_merged"]["same_id_other_location"]
    assert same == [{"id": "S5", "rows": [7, 12, 22, 32], "locations": 4}]
    out = pd.read_csv(write_duplicates(qa["locations_merged"]["conflicts"], tmp_path / "d.csv", same))
    assert out.loc[out["kind"] == "same sample ID, another location", "rows"].tolist() == ["7;12;22;32"]
    with pytest.raises(InputError, match=r"1 sample IDs are written at more than one location \(first: 'S5'"):
        # (a tolerance that lets the demo's own differing field duplicates pass)
        prepare_samples(path, id_column="SAMPLE", duplicate_rule="error", duplicate_tolerance=1e9, **OPTIONS)
    with pytest.raises(InputError, match="set the dataset's id_column"):
        prepare_samples(path, id_column="SAMPLE_ID", **OPTIONS)
