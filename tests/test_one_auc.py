"""One ROC AUC and one set of site-against-area scores.

``pipeline.evaluation.metrics.roc_auc`` is the binary ROC AUC of every stage
(window metrics, screening, site against background, truth, the GAD protocol);
``pipeline.cv.scores`` holds the site-against-area scores on plain arrays that
``pipeline.evaluation.maps`` applies to rasters. Checked here against
scikit-learn, against a brute-force count over all positive-negative pairs
(ties half) and on small cases worked by hand.
"""

import math

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from sklearn.metrics import roc_auc_score

from pipeline.cv.scores import (capture, curve_auc, curve_capture, curve_pa_intersection, gad_auc,
                                pa_intersection, site_scores, success_curve)
from pipeline.errors import InputError
from pipeline.evaluation.maps import (capture_at_area, prediction_area, site_vs_background_auc,
                                      success_rate_curve)
from pipeline.evaluation.metrics import classification_metrics, roc_auc
from pipeline.evaluation.truth import truth_auc
from pipeline.grid import GridSpec
from pipeline.screening import screen_elements

CELL = 100.0


def pairwise_auc(y, score):
    """Share of (positive, negative) pairs the score orders right, ties half."""
    y = np.asarray(y)
    s = np.asarray(score, dtype=float)
    pos, neg = s[y == 1], s[y == 0]
    greater = int((pos[:, None] > neg[None, :]).sum())
    ties = int((pos[:, None] == neg[None, :]).sum())
    return (greater + 0.5 * ties) / (pos.size * neg.size)


def random_cases(n_cases=200, seed=0):
    """(labels, scores) of both classes, most with many ties."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n_cases:
        n = int(rng.integers(2, 200))
        y = rng.integers(0, 2, n)
        if y.min() == y.max():
            continue
        kind = len(out) % 3
        if kind == 0:
            s = rng.normal(size=n)                                   # no ties
        elif kind == 1:
            s = rng.integers(0, int(rng.integers(1, 6)), n) / 3.0    # a few levels: many ties
        else:
            s = np.round(rng.normal(size=n), 1)                      # some ties
        out.append((y, s))
    return out


def _grid(rows, cols):
    return GridSpec("EPSG:32649", Affine(CELL, 0.0, 500000.0, 0.0, -CELL, 2500000.0), cols, rows)


def _centre(grid, rows, cols):
    xs, ys = grid.cell_centres()
    return np.column_stack([xs[np.asarray(cols)], ys[np.asarray(rows)]])


# ------------------------------------------------------------------ the ROC AUC

def test_roc_auc_is_the_pairwise_count_with_ties_half_exactly():
    for y, s in random_cases():
        assert roc_auc(y, s) == pairwise_auc(y, s)


def test_roc_auc_matches_scikit_learn():
    for y, s in random_cases(seed=1):
        assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), rel=0, abs=1e-12)


def test_roc_auc_hand_case_with_ties():
    # positives 0.8, 0.4; negatives 0.1, 0.4, 0.4: pairs won 3 + 1, tied 0 + 2 -> (4 + 1) / 6
    y = [1, 0, 1, 0, 0]
    s = [0.8, 0.1, 0.4, 0.4, 0.4]
    assert roc_auc(y, s) == pytest.approx(5 / 6) == roc_auc_score(y, s)
    assert roc_auc([1, 1, 0, 0], [0.5] * 4) == 0.5
    assert roc_auc([1, 0], [1.0, 0.0]) == 1.0 and roc_auc([1, 0], [0.0, 1.0]) == 0.0


def test_roc_auc_of_one_class_is_nan_and_bad_input_raises():
    assert math.isnan(roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(roc_auc([0, 0], [0.1, 0.2]))
    with pytest.raises(InputError):
        roc_auc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(InputError):
        roc_auc([0, 1], [0.1, np.nan])
    with pytest.raises(InputError):
        roc_auc([0, 1], [0.1, 0.2, 0.3])


def test_window_metrics_and_truth_use_the_one_auc():
    for y, s in random_cases(30, seed=2):
        assert classification_metrics(y, s)["roc_auc"] == roc_auc(y, s)
    rng = np.random.default_rng(3)
    truth = rng.normal(size=(12, 15))
    values = np.round(rng.normal(size=truth.shape), 1)
    area = np.ones(truth.shape, dtype=bool)
    result = truth_auc(values, truth, area)
    positive = (truth > np.quantile(truth, 0.9)).ravel().astype(int)
    assert result["truth_auc"] == pairwise_auc(positive, values.ravel())


def test_screening_rank_auc_is_the_pairwise_count():
    rng = np.random.default_rng(4)
    labels = (rng.random(120) < 0.3).astype(np.int8)
    samples = pd.DataFrame({"Cu": np.round(np.exp(rng.normal(size=120) + labels), 1),
                            "Au": np.round(np.exp(rng.normal(size=120)), 1)})
    table = screen_elements(samples, ["Cu", "Au"], labels, method="rank", min_class_size=5).set_index("element")
    for element in ("Cu", "Au"):
        assert table.loc[element, "rank_auc"] == pairwise_auc(labels, samples[element])
        assert table.loc[element, "auc"] == table.loc[element, "rank_auc"]
        assert table.loc[element, "rank_auc"] == pytest.approx(roc_auc_score(labels, samples[element]), abs=1e-12)


def test_site_vs_background_auc_is_the_pairwise_count_of_the_values_it_compares():
    grid = _grid(20, 20)
    rng = np.random.default_rng(5)
    prob = np.round(rng.random(grid.shape), 1)
    sites = _centre(grid, [2, 7, 11, 15], [3, 9, 4, 17])
    result = site_vs_background_auc(prob, grid, sites, n_background=50, min_distance=0.0, rng=0)
    from pipeline.evaluation.maps import sample_background_cells

    b_rows, b_cols = sample_background_cells(np.isfinite(prob), grid, sites, 50, 0.0, 0)
    site_values = prob[[2, 7, 11, 15], [3, 9, 4, 17]]
    y = np.r_[np.ones(4), np.zeros(b_rows.size)]
    assert result["auc"] == pairwise_auc(y, np.r_[site_values, prob[b_rows, b_cols]])


def test_gad_auc_is_the_mean_pairwise_count_over_its_draws():
    rng = np.random.default_rng(6)
    pos = np.round(rng.normal(1.0, size=5), 1)
    pool = np.round(rng.normal(size=80), 1)
    mean, std = gad_auc(pos, pool, n_negative=32, runs=20, seed=42)
    draw = np.random.default_rng(42)
    aucs = []
    for _ in range(20):
        neg = draw.choice(pool, 32, replace=True)
        aucs.append(pairwise_auc(np.r_[np.ones(5), np.zeros(32)], np.r_[pos, neg]))
    assert mean == pytest.approx(np.mean(aucs), abs=1e-15) and std == pytest.approx(np.std(aucs), abs=1e-15)


# ------------------------------------------------------------------ site against area

# Four cells of values 1, 2, 2, 3; sites on the 3 and on one 2. Exact curve
# (highest value first): area 0, 1/4, 3/4, 1; captured 0, 1/2, 1, 1.
AREA = np.array([1.0, 2.0, 2.0, 3.0])
SITES = np.array([3.0, 2.0])


def test_success_curve_hand_case():
    area, captured, levels = success_curve(AREA, SITES)
    np.testing.assert_array_equal(area, [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_array_equal(captured, [0.0, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(levels, [3.0, 2.0, 1.0])
    # trapezoids 1/4 * 1/4 + 1/2 * 3/4 + 1/4 * 1 = 11/16
    assert curve_auc(area, captured) == 11 / 16
    _, none, _ = success_curve(AREA, [])
    assert np.isnan(none).all() and math.isnan(curve_auc(area, none))


def test_the_area_under_the_curve_is_the_mean_site_score_and_the_sites_against_area_auc():
    # site 3: 3 cells below, 1 tied -> 3.5 / 4; site 2: 1 below, 2 tied -> 2 / 4; mean 11/16
    prob = AREA.reshape(2, 2)
    score, from_top = site_scores(prob, np.ones((2, 2), bool), [1, 0], [1, 1])
    np.testing.assert_array_equal(score, [0.875, 0.5])
    np.testing.assert_array_equal(from_top, [0.125, 0.5])
    y = np.r_[np.ones(SITES.size), np.zeros(AREA.size)]
    assert roc_auc(y, np.r_[SITES, AREA]) == 11 / 16 == pairwise_auc(y, np.r_[SITES, AREA])
    rng = np.random.default_rng(7)
    for _ in range(50):
        prob = np.round(rng.random((15, 12)) * rng.integers(1, 20))
        area_mask = rng.random(prob.shape) < 0.8
        rows, cols = np.nonzero(area_mask)
        pick = rng.choice(rows.size, int(rng.integers(1, 12)))
        rows, cols = rows[pick], cols[pick]
        area, captured, _ = success_curve(prob[area_mask], prob[rows, cols])
        mean_score = float(np.mean(site_scores(prob, area_mask, rows, cols)[0]))
        y = np.r_[np.ones(rows.size), np.zeros(int(area_mask.sum()))]
        exact = pairwise_auc(y, np.r_[prob[rows, cols], prob[area_mask]])
        assert curve_auc(area, captured) == pytest.approx(exact, abs=1e-12)
        assert mean_score == pytest.approx(exact, abs=1e-12)


def test_capture_hand_case_both_readings():
    area, captured, _ = success_curve(AREA, SITES)
    # the exact curve counts the tie group of 2s (area 1/4 .. 3/4) pro rata
    assert curve_capture(area, captured, [0.0, 0.25, 0.5, 1.0]) == {0.0: 0.0, 0.25: 0.5, 0.5: 0.75, 1.0: 1.0}
    # per site, each site sits at the middle of its tie group: 1/8 and 1/2 from the top
    _, from_top = site_scores(AREA.reshape(2, 2), np.ones((2, 2), bool), [1, 0], [1, 1])
    assert capture(from_top, [0.1, 0.25, 0.5]) == {0.1: 0.0, 0.25: 0.5, 0.5: 1.0}
    assert math.isnan(capture([], [0.1])[0.1])
    with pytest.raises(InputError):
        curve_capture(area, captured, [1.5])


def test_pa_intersection_hand_case_both_readings():
    area, captured, levels = success_curve(AREA, SITES)
    # along the 2s' segment captured = 1/2 + (x - 1/4) meets 1 - x at x = 3/8: P = 5/8
    threshold, rate = curve_pa_intersection(area, captured, levels)
    assert threshold == 2.0 and rate == pytest.approx(5 / 8)
    # the step curve of sites at 1/8 and 1/2 from the top is 1/2 up to 1/2: it meets 1 - x there
    assert pa_intersection([0.125, 0.5]) == pytest.approx(0.5)
    assert math.isnan(pa_intersection([]))


def test_map_functions_read_the_raster_and_call_the_array_scores():
    grid = _grid(2, 2)
    prob = AREA.reshape(2, 2)
    sites = _centre(grid, [1, 0], [1, 1])   # the cells of value 3 and of one 2
    curve = success_rate_curve(prob, grid, sites)
    np.testing.assert_array_equal(curve["area_fraction"], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_array_equal(curve["captured_fraction"], [0.0, 0.5, 1.0, 1.0])
    assert curve["auc"] == 11 / 16
    assert capture_at_area(prob, grid, sites, (0.25, 0.5)) == {0.25: 0.5, 0.5: 0.75}
    pa = prediction_area(prob, grid, sites)
    assert pa["threshold"] == 2.0 and pa["prediction_rate"] == pytest.approx(62.5)
    assert pa["occupied_area"] == pytest.approx(37.5)
    assert pa["normalized_density"] == pytest.approx(62.5 / 37.5)
