"""References fixed before the test (pipeline.cv.yardstick, pipeline.cv.commodity)
and the pooled test over surveys (pipeline.cv.pooled)."""

import copy

import numpy as np
import pandas as pd
import pytest

from pipeline.cv.commodity import commodities_from_sites, commodity_map, match_rasters, rank_map, resolve_commodity
from pipeline.cv.evaluate import evaluate_method, site_table, summary_table
from pipeline.cv.pooled import pooled_markdown, pooled_tables
from pipeline.cv.scores import site_scores
from pipeline.cv.yardstick import best_on_sites, fixed_references, nested_choice
from pipeline.errors import InputError

from test_cv import GRID, fields, plan_for, planted_sites, survey  # noqa: F401 (survey: a fixture)


def _reference(name, path, plan):
    return evaluate_method(name, "reference", {0: {f: path for f in range(plan["n_folds"])}}, plan,
                           np.ones(GRID.shape, bool))


@pytest.fixture(scope="module")
def rasters(survey):  # noqa: F811 (the survey fixture, imported from test_cv)
    """The Au and Cu rasters of test_cv's planted survey."""
    return survey[1]


def _moved(plan, fold, xy):
    """A copy of ``plan`` whose sites of ``fold`` stand at ``xy`` (one row per site)."""
    out = copy.deepcopy(plan)
    held = [s for s in out["sites"] if s["fold"] == fold]
    for s, (x, y) in zip(held, xy):
        s["x"], s["y"] = float(x), float(y)
    return out


def test_nested_choice_never_reads_the_held_out_sites(rasters):
    """Moving fold 0's held-out sites onto the Cu high leaves fold 0's choice unchanged
    (it is made on the other folds' sites), while their held-out scores do change."""
    plan = plan_for(planted_sites())
    records = [_reference("idw_Au", rasters["Au"], plan), _reference("idw_Cu", rasters["Cu"], plan)]
    before = nested_choice(records, plan)
    cu = fields()["Cu"]
    r, c = np.unravel_index(np.argmax(cu), cu.shape)
    xs, ys = GRID.cell_centres()
    n_held = sum(s["fold"] == 0 for s in plan["sites"])
    moved = _moved(plan, 0, [(xs[c], ys[r])] * n_held)
    records_moved = [_reference("idw_Au", rasters["Au"], moved), _reference("idw_Cu", rasters["Cu"], moved)]
    after = nested_choice(records_moved, moved)
    assert after[0] == before[0] and before[0]["chosen"] == "idw_Au"
    held_cu = [np.mean(s["score"]) for s in records_moved[1]["sites"] if s["fold"] == 0]
    assert min(held_cu) > 0.99                      # the moved sites now sit on Cu's top cell
    # the choice does follow the training sites: with fold 0's sites on the Cu high, the folds that train on
    # them see Cu rise, so the choice is not a constant
    aucs = {c["fold"]: c["runner_up_auc"] for c in after}
    assert any(aucs[f] > {c["fold"]: c["runner_up_auc"] for c in before}[f] for f in range(1, plan["n_folds"]))


def test_nested_choice_follows_the_training_sites():
    """A hand-made case: candidate B ranks the training sites of fold 0 better, A those of fold 1."""
    plan = {"n_folds": 2}

    def rec(name, scores):
        return {"method": name, "kind": "reference", "seeds": [0], "n_folds": 2, "maps": {"0": {"0": name, "1": name}},
                "sites": [{"id": i, "name": f"s{i}", "cluster": i, "fold": f, "score": [v], "area_from_top": [1 - v]}
                          for i, (f, v) in enumerate(scores)], "windows": []}

    a = rec("idw_A", [(0, 0.9), (0, 0.9), (1, 0.2), (1, 0.3)])
    b = rec("idw_B", [(0, 0.1), (0, 0.2), (1, 0.8), (1, 0.7)])
    choices = nested_choice([a, b], plan)
    assert [c["chosen"] for c in choices] == ["idw_B", "idw_A"]
    assert choices[0]["training_auc"] == pytest.approx(0.75) and choices[0]["n_training_sites"] == 2
    records, _ = fixed_references([a, b], plan)
    nested = {r["method"]: r for r in records}["reference_nested"]
    # each fold's held-out sites are scored in the map its training sites chose
    assert [np.mean(s["score"]) for s in nested["sites"]] == pytest.approx([0.1, 0.2, 0.2, 0.3])
    assert nested["chosen"] == ["idw_B", "idw_A"]


def _site_records(values_by_cluster, name="m", kind="trained"):
    sites, i = [], 0
    for c, values in enumerate(values_by_cluster):
        for v in values:
            sites.append({"id": i, "name": f"s{i}", "cluster": c, "fold": c, "score": [v], "area_from_top": [1 - v],
                          "no_value": 0})
            i += 1
    return {"method": name, "kind": kind, "seeds": [42], "n_folds": len(values_by_cluster), "sites": sites,
            "windows": [], "maps": {}}


def test_mean_over_clusters_weighs_each_cluster_alike():
    rec = _site_records([[0.9] * 8, [0.3], [0.3], [0.3]])
    plan = {"n_sites": 11, "n_outside_grid": 0, "n_outside_area": 0}
    row = summary_table([rec], plan, n_boot=300, density="none").iloc[0]
    assert row["heldout_auc"] == pytest.approx((8 * 0.9 + 3 * 0.3) / 11)
    assert row["heldout_auc_clusters"] == pytest.approx(0.45)
    assert row["ci_low_clusters"] <= 0.45 <= row["ci_high_clusters"]


def test_site_table_names_the_map_behind_each_composed_score():
    a = _site_records([[0.9], [0.8]], "idw_A", "reference")
    b = _site_records([[0.1], [0.2]], "idw_B", "reference")
    records, _ = fixed_references([a, b], {"n_folds": 2})
    table = site_table(records)
    nested = table[table["method"] == "reference_nested"]
    assert nested["source"].tolist() == ["idw_A", "idw_A"] and nested["score"].tolist() == [0.9, 0.8]


def test_best_on_sites_picks_the_map_ranking_the_given_sites_highest():
    area = np.ones((10, 10), bool)
    a = np.arange(100.0).reshape(10, 10)
    name, auc = best_on_sites({"a": a, "b": -a}, area, np.array([9, 8]), np.array([9, 9]))
    assert name == "a" and auc == pytest.approx(np.mean(site_scores(a, area, [9, 8], [9, 9])[0]))
    with pytest.raises(InputError, match="reference_nested"):
        best_on_sites({"a": a}, area, np.array([], int), np.array([], int))


# ------------------------------------------------------------------ commodity


def test_commodity_is_read_from_the_sites_when_not_declared():
    assert commodities_from_sites(["Au, Ag", "Au", "Au, Cu", "Cu"])[0] == ["Au", "Cu"]
    # no element named by half the sites: the most often named (Ag twice), not a tie of all
    assert commodities_from_sites(["Pb-Zn-Ba", "Au-Ag", "Cu-Mo-Ag", "W"])[0] == ["Ag"]
    sites = pd.DataFrame({"SITE_COMMO": ["Au, Ag", "Au", "Au"]})
    elements, reason = resolve_commodity(None, sites)
    assert elements == ["Au"] and "SITE_COMMO" in reason
    assert resolve_commodity(["Cu"], sites)[0] == ["Cu"]


def test_a_survey_without_commodity_gets_an_error_naming_the_key():
    with pytest.raises(InputError, match="evaluate.commodity is not set"):
        resolve_commodity(None, pd.DataFrame({"name": ["a", "b"]}))
    with pytest.raises(InputError, match="evaluate.commodity_column 'Metal'"):
        resolve_commodity(None, pd.DataFrame({"name": ["a"]}), "Metal")
    with pytest.raises(InputError, match="no raster of it"):
        match_rasters(["Au"], ["Cu", "Zn"])


def test_commodity_map_ranks_cells_as_its_raster_and_averages_several():
    rng = np.random.default_rng(0)
    au, cu = rng.normal(size=(2, 20, 30))
    area = np.ones(au.shape, bool)
    area[:2] = False
    au[5, 5] = np.nan
    one = commodity_map(au[None], area)
    assert np.isnan(one[:2]).all() and np.isnan(one[5, 5])
    ok = area & np.isfinite(au)
    assert np.array_equal(np.argsort(one[ok], kind="stable"), np.argsort(au[ok], kind="stable"))
    rows, cols = np.nonzero(ok)
    assert np.allclose(site_scores(one, area, rows[:50], cols[:50])[0], site_scores(au, area, rows[:50], cols[:50])[0])
    two = commodity_map(np.stack([au, cu]), area)
    expected = np.where(np.isfinite(au), (rank_map(au, area) + rank_map(cu, area)) / 2, rank_map(cu, area))
    assert np.allclose(two[area], expected[area], equal_nan=True)


# ------------------------------------------------------------------ pooled


def _survey_sites(rng, n_clusters, sizes, effects):
    """A cv_sites table: 'reference_fair' and others (method -> shift from it) per site."""
    rows, site = [], 0
    for c in range(n_clusters):
        base = rng.uniform(0.4, 0.8)
        for _ in range(sizes[c % len(sizes)]):
            ref = float(np.clip(base + rng.normal(0, 0.05), 0, 1))
            rows.append({"method": "reference_fair", "kind": "reference", "site": site, "cluster": c, "score": ref})
            for name, (shift, sd) in effects.items():
                rows.append({"method": name, "kind": "trained", "site": site, "cluster": c,
                             "score": ref + shift + rng.normal(0, sd)})
            site += 1
    return pd.DataFrame(rows)


def test_pooled_bootstrap_recovers_a_known_difference():
    rng = np.random.default_rng(1)
    effects = {"better": (0.08, 0.02), "same": (0.0, 0.02)}
    tables = {name: _survey_sites(rng, 7, [1, 3, 2], effects) for name in ("a", "b", "c")}
    summary, signs = pooled_tables(tables, n_boot=1000, seed=0)
    s = summary.set_index("method")
    assert s.loc["better", "diff_vs_reference_fair"] == pytest.approx(0.08, abs=0.01)
    assert s.loc["better", "diff_reference_fair_ci_low"] > 0.05 and s.loc["better", "beats_reference_fair"]
    assert s.loc["better", "beats_reference_fair_clusters"]
    assert s.loc["same", "diff_reference_fair_ci_low"] < 0 < s.loc["same", "diff_reference_fair_ci_high"]
    assert not s.loc["same", "beats_reference_fair"]
    assert s.loc["better", "n_surveys"] == 3 and s.loc["better", "n_clusters"] == 21
    assert set(signs[signs["method"] == "better"]["verdict"]) <= {"beats reference_fair", "not a difference"}


def test_pooled_weights_surveys_as_stated_and_leaves_out_what_a_survey_did_not_run():
    small = pd.DataFrame({"method": ["reference_fair", "m"], "kind": ["reference", "trained"], "site": [0, 0],
                          "cluster": [0, 0], "score": [0.5, 0.9]})
    rows = []
    for i in range(9):
        rows += [{"method": "reference_fair", "kind": "reference", "site": i, "cluster": i, "score": 0.5},
                 {"method": "m", "kind": "trained", "site": i, "cluster": i, "score": 0.6},
                 {"method": "only_big", "kind": "trained", "site": i, "cluster": i, "score": 0.7}]
    big = pd.DataFrame(rows)
    by_survey = pooled_tables({"small": small, "big": big}, weight="survey", n_boot=200)[0].set_index("method")
    by_sites = pooled_tables({"small": small, "big": big}, weight="sites", n_boot=200)[0].set_index("method")
    assert by_survey.loc["m", "heldout_auc"] == pytest.approx((0.9 + 0.6) / 2)
    assert by_sites.loc["m", "heldout_auc"] == pytest.approx((0.9 + 9 * 0.6) / 10)
    assert by_survey.loc["only_big", "n_surveys"] == 1 and by_survey.loc["only_big", "missing"] == "small"
    summary, signs = pooled_tables({"small": small, "big": big}, n_boot=200)
    text = pooled_markdown(summary, signs, n_boot=200, weight="survey")
    assert "not run" in text and "every survey weighs the same" in text
    with pytest.raises(InputError, match="pooled.weight"):
        pooled_tables({"small": small}, weight="clusters")
