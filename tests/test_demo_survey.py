"""The synthetic demo survey: deterministic, committed as generated, realistic and learnable."""

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import ConvexHull, cKDTree
from sklearn.metrics import roc_auc_score

from pipeline import demo_survey

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
TABLE_1 = ["Au", "B", "Sn", "Cu", "Ag", "Ba", "Mn", "Pb", "Zn", "As", "Sb", "Bi", "Hg", "Mo", "W", "F"]
MISSING = ("", "NA", "-9999")
REGENERATE = ".venv/bin/python -m pipeline.demo_survey --out data/demo --seed 20220831"


@pytest.fixture(scope="module")
def generated():
    return demo_survey.generate_survey(demo_survey.DEFAULT_SEED)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    demo_survey.main(["--out", str(out), "--seed", str(demo_survey.DEFAULT_SEED)])
    return out


@pytest.fixture(scope="module")
def raw():
    # as a user would see the file: every cell text, nothing turned into NaN
    return pd.read_csv(DEMO / "samples.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def sites():
    return pd.read_csv(DEMO / "sites.csv")


def _coordinates(raw):
    x = pd.to_numeric(raw["X"], errors="coerce").to_numpy(float)
    y = pd.to_numeric(raw["Y"], errors="coerce").to_numpy(float)
    ok = (x > 400000) & (x < 460000) & (y > 2390000) & (y < 2440000)
    return x, y, ok


def _numeric(column):
    """Concentrations with codes resolved: censored -> half the limit, missing -> NaN."""
    text = column.astype(str)
    missing = text.isin(MISSING)
    less = text.str.startswith("<")
    values = pd.to_numeric(text.str.lstrip("<").where(~missing), errors="raise").astype(float).to_numpy()
    negative = values < 0
    values = np.abs(values)
    values[less.to_numpy() | negative] /= 2
    return values


def _labels(raw, sites):
    x, y, ok = _coordinates(raw)
    dist, _ = cKDTree(sites[["X", "Y"]].to_numpy(float)).query(np.c_[x[ok], y[ok]])
    return ok, dist


def test_same_seed_gives_identical_frames(generated, written):
    # two independent generations with one seed: generate_survey here, main() for `written`
    samples = pd.read_csv(written / "samples.csv", dtype=str, keep_default_na=False)
    sites = pd.read_csv(written / "sites.csv")
    pd.testing.assert_frame_equal(generated[0].astype(object), samples.astype(object))
    pd.testing.assert_frame_equal(generated[1], sites)


def test_other_seed_gives_another_survey(generated):
    samples, sites = demo_survey.generate_survey(demo_survey.DEFAULT_SEED + 1)
    assert not samples.equals(generated[0])
    assert not sites.equals(generated[1])
    assert list(samples.columns) == list(generated[0].columns)


def test_committed_files_equal_fresh_generation(written):
    for name in ("samples.csv", "sites.csv"):
        fresh = (written / name).read_bytes()
        committed = (DEMO / name).read_bytes()
        assert fresh == committed, f"data/demo/{name} is stale; regenerate with: {REGENERATE}"
    assert sorted(p.name for p in written.iterdir()) == ["samples.csv", "sites.csv", "truth.tif"], "temporary files left"


def test_columns_follow_table_1(raw, sites):
    with open(DEMO / "samples.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == ["X", "Y", *TABLE_1]
    assert list(demo_survey.ELEMENTS) == TABLE_1
    assert list(sites.columns) == ["X", "Y", "name", "commodity", "site_type"]
    assert demo_survey.UNITS["Au"] == demo_survey.UNITS["Hg"] == "ppb"
    assert {demo_survey.UNITS[e] for e in TABLE_1 if e not in ("Au", "Hg")} == {"ppm"}


def test_survey_size_density_and_sites(raw, sites):
    x, y, ok = _coordinates(raw)
    hull_km2 = ConvexHull(np.c_[x[ok], y[ok]]).volume / 1e6
    assert 1500 < hull_km2 < 2200
    assert 3.5 < ok.sum() / hull_km2 < 5.0
    assert 6000 < len(raw) < 8500
    assert 30 <= len(sites) <= 60
    assert sites["name"].is_unique
    assert set(sites["site_type"]) <= {"Mine", "Deposit", "Prospect", "Occurrence"}
    assert sites["commodity"].str.fullmatch(r"[A-Z][a-z]?(-[A-Z][a-z]?)+|[A-Z][a-z]?").all()
    assert sites["X"].between(400000, 460000).all() and sites["Y"].between(2390000, 2440000).all()
    # the pipeline holds out the southern part of the grid for testing
    south = y[ok].min() + 0.25 * (y[ok].max() - y[ok].min())
    assert (sites["Y"] < south).sum() >= 3


def test_samples_are_irregular_not_a_grid(raw):
    x, y, ok = _coordinates(raw)
    points = np.unique(np.c_[x[ok], y[ok]], axis=0)
    dist, _ = cKDTree(points).query(points, k=2)
    nearest = dist[:, 1]
    assert nearest.std() / nearest.mean() > 0.3
    assert len(np.unique(np.round(points[:, 0] % 1000))) > 500


def test_gold_halo_is_real(raw, sites):
    ok, dist = _labels(raw, sites)
    au = _numeric(raw["Au"])[ok]
    near = np.nanmedian(au[dist < 1000])
    far = np.nanmedian(au[dist > 3000])
    assert (dist < 1000).sum() > 300
    assert near > 1.3 * far


def test_screening_separates_associated_from_background_elements(raw, sites):
    ok, dist = _labels(raw, sites)
    label = dist < 1000
    auc = {}
    for element in TABLE_1:
        values = _numeric(raw[element])[ok]
        valid = np.isfinite(values)
        auc[element] = roc_auc_score(label[valid], values[valid])
    # as in the paper, the signal is modest and uneven across the associations
    associated = ("Au", "Ag", "As", "Sb", "Hg", "Cu", "Mo", "W", "Sn", "Bi", "Pb", "Zn", "Ba")
    assert auc["Au"] > 0.65 and auc["Ag"] > 0.65, auc
    assert np.mean([auc[e] for e in associated]) > 0.58
    # background either way: a classifier must not find them useful, raised or depleted
    for element in ("Mn", "F", "B"):
        assert 0.4 < auc[element] < 0.56, (element, auc[element])
    assert min(auc[e] for e in ("Au", "Ag", "Hg")) > max(auc[e] for e in ("Mn", "F", "B")) + 0.1


def test_detection_limit_codes(raw):
    cells = raw[TABLE_1]
    less = cells.apply(lambda c: c.str.startswith("<")).to_numpy()
    negative = cells.apply(lambda c: c.str.startswith("-") & (c != "-9999")).to_numpy()
    assert less.sum() > 20 and negative.sum() > 20
    for element in TABLE_1:
        column = raw[element]
        codes = set(column[column.str.startswith("<")].str[1:]) | set(
            column[column.str.startswith("-") & (column != "-9999")].str[1:]
        )
        assert len(codes) <= 1, f"{element}: more than one detection limit {codes}"


def test_missing_value_codes(raw):
    cells = raw[TABLE_1]
    for code in MISSING:
        assert (cells == code).to_numpy().sum() > 10, f"missing code {code!r} absent"
    missing = cells.isin(MISSING).to_numpy().mean()
    assert 0.002 < missing < 0.02


def test_field_duplicates_share_location_but_not_values(raw):
    repeated = raw.duplicated(["X", "Y"], keep=False) & (raw["X"] != "")
    fraction = raw.duplicated(["X", "Y"]).mean()
    assert 0.01 <= fraction <= 0.02
    pairs = raw[repeated].groupby(["X", "Y"])
    differing = sum(group[TABLE_1].nunique().max() > 1 for _, group in pairs)
    assert differing > 0.8 * pairs.ngroups


def test_some_rows_have_unusable_coordinates(raw):
    _, _, ok = _coordinates(raw)
    bad = raw[~ok]
    assert 2 <= len(bad) <= 4
    assert (bad["X"] == "").any()


def test_values_look_like_a_lab_export(raw):
    for element in TABLE_1:
        column = raw[element]
        plain = column[~column.isin(MISSING) & ~column.str.startswith(("<", "-"))]
        assert plain.str.fullmatch(r"\d+(\.\d*[1-9])?").all(), element
        values = plain.astype(float)
        assert values.gt(0).all()
        # rich but physically possible: no stream sediment is more than 5% of one element
        assert values.max() < 50000, (element, values.max())
        # log-normal: a long upper tail, mean above median
        assert values.mean() > values.median()


def test_truth_marks_every_site_and_the_test_part_holds_ten(written, sites):
    import rasterio

    with rasterio.open(DEMO / "truth.tif") as committed, rasterio.open(written / "truth.tif") as fresh:
        truth = committed.read(1)
        np.testing.assert_array_equal(truth, fresh.read(1))
        assert committed.crs.to_epsg() == 32649
        rows, cols = rasterio.transform.rowcol(committed.transform, sites["X"], sites["Y"])
    # the truth is 1 at a deposit's core: every site sits within a 200 m cell of it
    at_sites = truth[np.asarray(rows), np.asarray(cols)]
    assert (at_sites > 0.5).all() and truth.max() == pytest.approx(1.0, abs=0.05)
    # barren haloes and empty ground are 0: most of the area holds no deposit
    assert (truth < 0.01).mean() > 0.8
    # the demo's test part is the lower quarter of the samples' extent
    raw = pd.read_csv(DEMO / "samples.csv", dtype=str, keep_default_na=False)
    _, y, ok = _coordinates(raw)
    cut = y[ok].min() + 0.25 * (y[ok].max() - y[ok].min())
    assert (sites["Y"] < cut).sum() >= 10
