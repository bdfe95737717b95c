"""Campaigns (company reports) in the prepare stage: the campaign column, censoring per campaign, harmonised
censored values (measured values below the common limit only on request); and a projected input CRS in metres
kept as the working CRS."""

import copy
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.config import dataset_config, validate_config
from pipeline.errors import InputError
from pipeline.prepare import HARMONISE_RULE, prepare_samples
from pipeline.survey_io import read_points, write_points

LONLAT = {"crs": "EPSG:4283", "working_crs": "EPSG:28350", "min_valid": 1}
HEADER = ["X", "Y", "Report", "Bi_ppm", "Cu_ppm"]


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(str(v) for v in row) for row in rows]) + "\n")
    return path


def at(i):
    """Location i near Katanning (lon/lat, GDA94)."""
    return [f"{117.5 + i * 0.01:.4f}", "-33.7000"]


def two_campaigns(tmp_path):
    """Campaign A codes Bi below detection as -0.5, campaign B as -2 or '<2'; locations 1 and 6 are repeated."""
    rows = [
        at(1) + ["A", "-0.5", "10"],   # row 2: censored, limit 0.5
        at(2) + ["A", "1.5", "20"],    # row 3: measured below B's limit 2
        at(3) + ["A", "3.0", "30"],    # row 4: measured above every limit
        at(4) + ["B", "-2", "40"],     # row 5: censored, limit 2
        at(5) + ["B", "5.0", "50"],    # row 6
        at(1) + ["B", "-2", "12"],     # row 7: location 1 again, other campaign (tie: A comes first)
        at(6) + ["A", "-0.5", "60"],   # row 8
        at(6) + ["B", "4.0", "70"],    # row 9
        at(6) + ["B", "<2", "80"],     # row 10: location 6 has two B rows, one A row: B
        at(7) + ["", "2.5", "90"],     # row 11: campaign missing
    ]
    return write_csv(tmp_path / "samples.csv", HEADER, rows)


@pytest.fixture
def campaign_run(tmp_path):
    return prepare_samples(two_campaigns(tmp_path), campaign_column="Report", **LONLAT)


def by_location(gdf, column):
    """Values per location 1..7 (locations keep their first-appearance order)."""
    return dict(zip(range(1, 8), gdf[column].tolist()))


# ---------------------------------------------------------------- campaign column

def test_campaign_column_in_the_output(campaign_run, tmp_path):
    gdf, qa = campaign_run
    assert len(gdf) == 7
    assert by_location(gdf, "n_merged") == {1: 2, 2: 1, 3: 1, 4: 1, 5: 1, 6: 3, 7: 1}
    assert by_location(gdf, "campaign") == {1: "A", 2: "A", 3: "A", 4: "B", 5: "B", 6: "B", 7: "unknown"}
    assert list(qa["elements_kept"]) == ["Bi", "Cu"] and "campaign" not in gdf.attrs["units"]
    assert "Report" not in qa["columns_not_used"]
    campaigns = qa["campaigns"]
    assert campaigns["column"] == "Report"
    assert campaigns["rows"] == {"A": 4, "B": 5, "unknown": 1}
    assert campaigns["rows_missing_set_unknown"] == 1
    assert campaigns["locations_with_several_campaigns"] == 2
    path = write_points(gdf, tmp_path / "samples.gpkg")
    back = read_points(path)
    assert back["campaign"].tolist() == gdf["campaign"].tolist()
    assert all(isinstance(c, str) for c in back["campaign"])


def test_campaign_column_is_not_an_element(tmp_path):
    # a numeric survey number in a column named like sulphur would otherwise be read as S in ppm
    rows = [at(i) + [str(1 + i % 2), f"{i + 1.0}"] for i in range(6)]
    path = write_csv(tmp_path / "samples.csv", ["X", "Y", "S", "Cu_ppm"], rows)
    _, plain = prepare_samples(path, **LONLAT)
    assert "S" in plain["elements_kept"]
    gdf, qa = prepare_samples(path, campaign_column="S", **LONLAT)
    assert list(qa["elements_kept"]) == ["Cu"] and not qa["elements_dropped"]
    assert set(qa["censoring_by_campaign"]) == {"Cu"}
    assert gdf["campaign"].tolist() == ["1", "2", "1", "2", "1", "2"]


def test_missing_campaign_column_names_the_key_and_the_columns(tmp_path):
    path = two_campaigns(tmp_path)
    with pytest.raises(InputError, match=r"campaign_column 'WAMEX_A_NO'.*X, Y, Report, Bi_ppm, Cu_ppm") as err:
        prepare_samples(path, campaign_column="WAMEX_A_NO", **LONLAT)
    assert str(path) in str(err.value)


def test_without_campaign_column_nothing_changes(tmp_path):
    gdf, qa = prepare_samples(two_campaigns(tmp_path), **LONLAT)
    assert "campaign" not in gdf.columns and "campaigns" not in qa and "censoring_by_campaign" not in qa
    assert qa["harmonise_censoring"]["on"] is False and "harmonised_censoring" not in qa
    assert "Report" in qa["columns_not_used"]
    # half of each campaign's own limit: 0.25 (A) and 1.0 (B) merge to 0.625 at location 1
    assert by_location(gdf, "Bi")[1] == pytest.approx(0.625)
    assert by_location(gdf, "Bi")[2] == pytest.approx(1.5)


# ---------------------------------------------------------------- censoring per campaign

def test_censoring_report_per_element_and_campaign(campaign_run):
    _, qa = campaign_run
    bi = qa["censoring_by_campaign"]["Bi"]
    assert set(bi) == {"A", "B", "unknown"}
    assert bi["A"] == {"n": 4, "n_missing": 0, "n_censored": 2, "n_limit_not_given": 0, "limits": [0.5]}
    assert bi["B"] == {"n": 5, "n_missing": 0, "n_censored": 3, "n_limit_not_given": 0, "limits": [2.0]}
    assert bi["unknown"] == {"n": 1, "n_missing": 0, "n_censored": 0, "n_limit_not_given": 0, "limits": []}
    assert qa["censoring_by_campaign"]["Cu"]["B"]["n_censored"] == 0


def test_censoring_report_in_the_element_unit_with_unknown_limits(tmp_path):
    rows = [at(1) + ["A", "-5", "1"], at(2) + ["A", "12", "1"], at(3) + ["B", "0", "1"], at(4) + ["B", "BDL", "1"],
            at(5) + ["B", "-10", "1"], at(6) + ["B", "-9999", "1"]]
    path = write_csv(tmp_path / "samples.csv", ["X", "Y", "Report", "Au_ppb", "Cu_ppm"], rows)
    _, qa = prepare_samples(path, campaign_column="Report", output_units={"Au": "ppm"}, harmonise_censoring=False,
                            **LONLAT)
    au = qa["censoring_by_campaign"]["Au"]
    assert au["A"] == {"n": 2, "n_missing": 0, "n_censored": 1, "n_limit_not_given": 0, "limits": [0.005]}
    assert au["B"] == {"n": 4, "n_missing": 1, "n_censored": 3, "n_limit_not_given": 2, "limits": [0.01]}


# ---------------------------------------------------------------- harmonised censoring

def test_by_default_only_censored_values_are_harmonised(campaign_run):
    gdf, qa = campaign_run
    assert qa["harmonise_censoring"] == {"setting": None, "on": True, "below_limit": False, "rule": HARMONISE_RULE}
    assert qa["harmonised_censoring"] == {"Bi": {
        "common_limit": 2.0, "unit": "ppm", "set_to": 1.0, "n_censored_changed": 2,
        "n_measured_below_limit_changed": 0}}
    # censored values of both campaigns at half the largest limit (2): A's -0.5 and B's -2 / <2 all give 1.0;
    # A's measured 1.5, below B's limit 2, stays as measured (location 6: median of 1, 4, 1)
    bi = by_location(gdf, "Bi")
    assert bi == {1: 1.0, 2: 1.5, 3: 3.0, 4: 1.0, 5: 5.0, 6: 1.0, 7: 2.5}
    assert by_location(gdf, "Cu") == {1: 11.0, 2: 20.0, 3: 30.0, 4: 40.0, 5: 50.0, 6: 70.0, 7: 90.0}
    assert qa["values_below_detection"]["counts"]["Bi"]["count"] == 5


def test_harmonised_values_and_counts_below_limit(tmp_path):
    gdf, qa = prepare_samples(two_campaigns(tmp_path), campaign_column="Report", harmonise_below_limit=True,
                              **LONLAT)
    assert qa["harmonise_censoring"]["setting"] is None and qa["harmonise_censoring"]["on"] is True
    assert qa["harmonise_censoring"]["below_limit"] is True
    assert qa["harmonised_censoring"] == {"Bi": {
        "common_limit": 2.0, "unit": "ppm", "set_to": 1.0, "n_censored_changed": 2,
        "n_measured_below_limit_changed": 1}}
    # every censored value at half the largest limit (2); A's measured 1.5 < 2 too; 3, 5 and 4 stay
    bi = by_location(gdf, "Bi")
    assert bi == {1: 1.0, 2: 1.0, 3: 3.0, 4: 1.0, 5: 5.0, 6: 1.0, 7: 2.5}
    assert by_location(gdf, "Cu") == {1: 11.0, 2: 20.0, 3: 30.0, 4: 40.0, 5: 50.0, 6: 70.0, 7: 90.0}
    # the file's own counts are unchanged
    assert qa["values_below_detection"]["counts"]["Bi"]["count"] == 5


def test_harmonised_before_locations_are_merged(tmp_path):
    gdf, qa = prepare_samples(two_campaigns(tmp_path), campaign_column="Report", duplicate_rule="mean", **LONLAT)
    # mean of the harmonised rows (1, 1) and (1, 4, 1), not of 0.25 / 1.0 and 0.25 / 4 / 1.0
    assert by_location(gdf, "Bi")[1] == 1.0 and by_location(gdf, "Bi")[6] == 2.0


@pytest.mark.parametrize("rule, level", [("limit", 2.0), ("zero", 0.0)])
def test_harmonised_level_follows_the_detection_limit_rule(tmp_path, rule, level):
    gdf, qa = prepare_samples(two_campaigns(tmp_path), campaign_column="Report", detection_limit_rule=rule,
                              harmonise_below_limit=True, **LONLAT)
    entry = qa["harmonised_censoring"]["Bi"]
    assert entry["set_to"] == level and entry["common_limit"] == 2.0
    assert by_location(gdf, "Bi")[4] == level and by_location(gdf, "Bi")[2] == level
    # limit: the two -0.5 (0.5) change, -2 / <2 were at 2 already; zero: every censored value was 0 already
    assert entry["n_censored_changed"] == (2 if rule == "limit" else 0)
    assert entry["n_measured_below_limit_changed"] == 1


def test_harmonise_with_rule_missing_counts_the_new_missing_values(tmp_path):
    gdf, qa = prepare_samples(two_campaigns(tmp_path), campaign_column="Report", detection_limit_rule="missing",
                              harmonise_below_limit=True, **LONLAT)
    assert qa["harmonised_censoring"]["Bi"]["set_to"] is None
    assert qa["harmonised_censoring"]["Bi"]["n_measured_below_limit_changed"] == 1
    missing = qa["values_missing"]["Bi"]
    assert missing["below_common_limit_set_missing"] == 1 and missing["total"] == 6
    assert np.isnan(by_location(gdf, "Bi")[2])


def test_harmonise_with_rule_missing_keeps_measured_values_by_default(tmp_path):
    gdf, qa = prepare_samples(two_campaigns(tmp_path), campaign_column="Report", detection_limit_rule="missing",
                              **LONLAT)
    assert qa["harmonised_censoring"]["Bi"]["set_to"] is None
    assert qa["harmonised_censoring"]["Bi"]["n_measured_below_limit_changed"] == 0
    missing = qa["values_missing"]["Bi"]
    assert "below_common_limit_set_missing" not in missing and missing["total"] == 5
    assert by_location(gdf, "Bi")[2] == 1.5


def test_harmonise_off_keeps_each_campaign_level(tmp_path):
    gdf, qa = prepare_samples(two_campaigns(tmp_path), campaign_column="Report", harmonise_censoring=False,
                              **LONLAT)
    assert qa["harmonise_censoring"]["on"] is False and "harmonised_censoring" not in qa
    assert "censoring_by_campaign" in qa
    assert by_location(gdf, "Bi")[1] == pytest.approx(0.625) and by_location(gdf, "Bi")[2] == 1.5


def test_harmonise_without_campaign_column_uses_the_whole_survey(tmp_path):
    gdf, qa = prepare_samples(two_campaigns(tmp_path), harmonise_censoring=True, harmonise_below_limit=True,
                              **LONLAT)
    assert "campaign" not in gdf.columns
    assert qa["harmonised_censoring"]["Bi"]["common_limit"] == 2.0
    assert by_location(gdf, "Bi") == {1: 1.0, 2: 1.0, 3: 3.0, 4: 1.0, 5: 5.0, 6: 1.0, 7: 2.5}


# ---------------------------------------------------------------- configuration

def test_config_keys_default_to_null(repo):
    raw = yaml.safe_load((repo / "config.yaml").read_text())
    view = dataset_config(validate_config(copy.deepcopy(raw)), "demo")
    assert view["dataset"]["campaign_column"] is None and view["prepare"]["harmonise_censoring"] is None
    assert view["prepare"]["harmonise_below_limit"] is False
    raw["datasets"]["demo"]["campaign_column"] = "WAMEX_A_NO"
    raw["datasets"]["demo"]["settings"] = {"prepare": {"harmonise_censoring": False, "harmonise_below_limit": True}}
    view = dataset_config(validate_config(raw), "demo")
    assert view["dataset"]["campaign_column"] == "WAMEX_A_NO" and view["prepare"]["harmonise_censoring"] is False
    assert view["prepare"]["harmonise_below_limit"] is True
    for key, bad in (("harmonise_censoring", "yes"), ("harmonise_below_limit", None)):
        raw = yaml.safe_load((repo / "config.yaml").read_text())
        raw["prepare"][key] = bad
        with pytest.raises(InputError, match=key):
            validate_config(raw)


# ---------------------------------------------------------------- working CRS

def test_projected_metre_input_is_kept_as_working_crs(tmp_path):
    rows = [[f"{550000 + i * 1000}", f"{6270000 + (i % 3) * 1000}", f"{i + 1}"] for i in range(6)]
    path = write_csv(tmp_path / "samples.csv", ["E", "N", "Cu_ppm"], rows)
    gdf, qa = prepare_samples(path, x_column="E", y_column="N", crs="EPSG:28350", min_valid=1)
    assert qa["crs_out"] == "EPSG:28350" and gdf.crs.to_epsg() == 28350
    assert "input CRS" in qa["crs_out_source"]
    np.testing.assert_allclose(gdf["x"], [550000 + i * 1000 for i in range(6)])


def test_projected_feet_input_gets_the_utm_zone(tmp_path):
    # California zone 3 in US survey feet: not metres, so the UTM zone (10N) is used
    rows = [[f"{6000000 + i * 3000}", f"{2100000 + (i % 3) * 3000}", f"{i + 1}"] for i in range(6)]
    path = write_csv(tmp_path / "samples.csv", ["E", "N", "Cu_ppm"], rows)
    gdf, qa = prepare_samples(path, x_column="E", y_column="N", crs="EPSG:2227", min_valid=1)
    assert qa["crs_out"] == "EPSG:32610" and "UTM" in qa["crs_out_source"]


def test_kolari_projected_crs_is_kept(shared_data):
    gdf, qa = prepare_samples(shared_data / "gtk_kolari" / "till_geochemistry.gpkg", x_column=None, y_column=None)
    assert qa["crs_in"] == "EPSG:3067" and qa["crs_out"] == "EPSG:3067" and gdf.crs.to_epsg() == 3067
    assert "input CRS" in qa["crs_out_source"]


# ---------------------------------------------------------------- Katanning (real data)

@pytest.fixture(scope="module")
def katanning():
    if not os.environ.get("SKT_SHARED_DATA"):
        pytest.skip("SKT_SHARED_DATA is not set")
    path = Path(os.environ["SKT_SHARED_DATA"]) / "gswa_katanning" / "samples.csv"
    raw = pd.read_csv(path)
    options = {"crs": "EPSG:4283", "working_crs": "EPSG:28350", "campaign_column": "WAMEX_A_NO"}
    runs = {on: prepare_samples(path, harmonise_censoring=on, **options) for on in (False, True)}
    runs["below_limit"] = prepare_samples(path, harmonise_below_limit=True, **options)
    return raw, runs


def censored_only_values(raw, gdf, column):
    """Distinct output values per (location's) campaign at the locations whose rows are all censored in column."""
    location = raw.groupby(["X", "Y"], sort=False).ngroup()
    assert (np.bincount(location) == gdf["n_merged"].to_numpy()).all()  # output rows in location order
    values = raw[column]
    censored = (((values < 0) & (values != -9999)) | (values == 0)).groupby(location).all().to_numpy()
    out = pd.DataFrame({"campaign": gdf["campaign"].to_numpy()[censored],
                        "value": gdf[column.split("_")[0]].to_numpy()[censored]})
    return out.groupby("campaign")["value"].unique().map(lambda v: sorted(np.round(v, 12)))


def test_katanning_campaigns_and_censoring_report(katanning):
    raw, runs = katanning
    gdf, qa = runs[True]
    assert qa["campaigns"]["rows"] == {str(k): int(v) for k, v in raw["WAMEX_A_NO"].value_counts().items()}
    assert qa["campaigns"]["rows_missing_set_unknown"] == 0 and len(gdf) == 820
    assert gdf["campaign"].map(type).eq(str).all()
    bi = qa["censoring_by_campaign"]["Bi"]
    # the reports code Bi below detection differently: -0.003 in some, 0 (no limit given) in others
    with_limit = {c for c, e in bi.items() if e["limits"] == [0.003] and e["n_censored"] == e["n"]}
    zero_coded = {c for c, e in bi.items() if e["n_censored"] and e["n_limit_not_given"] == e["n_censored"]}
    assert {"94616", "96360"} <= with_limit and {"93974", "96359"} <= zero_coded


def test_katanning_bi_censored_values_no_longer_differ_between_campaigns(katanning):
    raw, runs = katanning
    gdf, qa = runs[True]
    level = qa["harmonised_censoring"]["Bi"]["set_to"]
    per_campaign = censored_only_values(raw, gdf, "Bi_ppm")
    assert len(per_campaign) >= 3
    assert all(values == [level] for values in per_campaign)


def test_katanning_w_censored_values_differed_before_harmonising(katanning):
    # W: report 74821 gives a limit of 0.1 ppm, the others 0.001 (or 0): the censored value named the report
    raw, runs = katanning
    before = censored_only_values(raw, runs[False][0], "W_ppm")
    assert len({tuple(v) for v in before}) > 1
    gdf, qa = runs[True]
    entry = qa["harmonised_censoring"]["W"]
    assert entry["common_limit"] == 0.1 and entry["n_censored_changed"] > 0
    after = censored_only_values(raw, gdf, "W_ppm")
    assert all(values == [entry["set_to"]] for values in after)


def test_katanning_au_measured_below_the_coarse_limit_is_kept_by_default(katanning):
    # report 74821 (32 rows) has an Au limit of 1 ppb, the others 0.02 ppb (or none): on request, every
    # measured Au value below 1 ppb would become 0.5 ppb, erasing the low-level gold signal
    raw, runs = katanning
    gdf, qa = runs[True]
    assert qa["harmonise_censoring"]["below_limit"] is False
    assert qa["harmonised_censoring"]["Au"] == {
        "common_limit": 1.0, "unit": "ppb", "set_to": 0.5, "n_censored_changed": 204,
        "n_measured_below_limit_changed": 0}
    location = raw.groupby(["X", "Y"], sort=False).ngroup()
    values = raw["Au_ppm"]
    measured = ~(((values < 0) & (values != -9999)) | (values == 0)).groupby(location).any().to_numpy()
    # at locations without censored Au rows the output equals the unharmonised one: 635 of them below 1 ppb
    off = runs[False][0]["Au"].to_numpy()[measured]
    on = gdf["Au"].to_numpy()[measured]
    assert np.array_equal(on, off, equal_nan=True)
    assert int((on < 1.0).sum()) == 635 and len(np.unique(on[on < 1.0])) == 85
    flattened = runs["below_limit"][1]["harmonised_censoring"]["Au"]
    assert flattened["n_measured_below_limit_changed"] == 1114 and flattened["n_censored_changed"] == 204
    assert runs["below_limit"][1]["harmonise_censoring"]["below_limit"] is True
    low = runs["below_limit"][0]["Au"].to_numpy()[measured]
    assert np.unique(low[low < 1.0]).tolist() == [0.5]
