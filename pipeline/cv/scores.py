"""Held-out-site scores and their uncertainty.

A map's value at a held-out site is ranked among all cells of the evaluated
area: the site's score is the share of cells scoring below it (ties count
half), so 1 puts the site on the most prospective cell, 0.5 is what a map
without information gives on average. The mean over sites is the
held-out-site AUC (the area under the success-rate curve of those sites). Its
95 % interval comes from a bootstrap over site clusters, the units that are
independent, not over sites.

This module is the one home of the site-against-area scores on plain arrays;
``pipeline.evaluation.maps`` reads the values off a raster and calls it. Two
readings of the success-rate curve live here side by side, on purpose:

* per site (``site_scores``, ``capture``, ``pa_intersection``): each site sits
  at the middle of its tie group, so capture at an area fraction counts whole
  sites; these pool over folds and bootstrap over clusters;
* the exact curve (``success_curve``, ``curve_auc``, ``curve_capture``,
  ``curve_pa_intersection``): a tie group is one straight segment, so a group
  that straddles the cut counts pro rata (the map evaluation's numbers).

On a map without empty cells both give the same area under the curve (the
mean site score, up to rounding); capture and the P-A intersection can differ
where the cells of a site's value straddle the cut. The binary ROC AUC itself
is ``pipeline.evaluation.metrics.roc_auc``.
"""

import numpy as np

from ..errors import InputError
from ..evaluation.metrics import roc_auc


def area_values(prob, area_mask):
    """Sorted values of the evaluated area; a cell the map leaves empty ranks lowest."""
    values = np.asarray(prob, dtype=np.float64)[np.asarray(area_mask, dtype=bool)]
    values = np.where(np.isfinite(values), values, -np.inf)
    if values.size == 0:
        raise InputError("the evaluated area has no cells")
    return np.sort(values)


def site_scores(prob, area_mask, rows, cols):
    """Share of area cells below each site's cell (ties half) and the share of
    area at or above it (the site's position from the top, ties half)."""
    ranked = area_values(prob, area_mask)
    values = np.asarray(prob, dtype=np.float64)[np.asarray(rows), np.asarray(cols)]
    values = np.where(np.isfinite(values), values, -np.inf)
    below = np.searchsorted(ranked, values, "left")
    ties = np.searchsorted(ranked, values, "right") - below
    score = (below + 0.5 * ties) / ranked.size
    return score, 1.0 - score


def capture(area_from_top, fractions):
    """Share of sites inside the most prospective ``fractions`` of the area."""
    a = np.asarray(area_from_top, dtype=float)
    return {float(f): float(np.mean(a <= f)) if a.size else float("nan") for f in fractions}


def pa_intersection(area_from_top):
    """Prediction-area intersection of the success-rate curve of these sites:
    the prediction rate P (share of sites captured) where P equals the share of
    area left out (P = 1 - area). 0.5 for a map without information."""
    a = np.sort(np.asarray(area_from_top, dtype=float))
    if a.size == 0:
        return float("nan")
    n = a.size
    # captured(x) = share of sites with area <= x is a step function: the first x where
    # captured(x) + x >= 1 is either where a step meets the line (x = 1 - k/n) or a jump (x = a_i)
    candidates = np.unique(np.clip(np.r_[1.0 - np.arange(n + 1) / n, a], 0.0, 1.0))
    gap = np.searchsorted(a, candidates, "right") / n + candidates - 1.0
    return float(1.0 - candidates[np.flatnonzero(gap >= -1e-12)[0]])


def success_curve(area_values, site_values):
    """Exact success-rate curve: share of sites captured against share of area,
    one point per distinct value of the area's cells, highest first.

    ``area_values``: the values of the evaluated cells (finite); ``site_values``:
    the values at the sites' cells (among them). Cells sharing a value form one
    straight segment, the expected curve when ties are broken at random, so a
    constant map gives the diagonal. Returns (area, captured, levels): segment k
    (from point k to k + 1) holds the cells of value ``levels[k]``; ``captured``
    is NaN without sites.
    """
    values = np.asarray(area_values, dtype=np.float64).reshape(-1)
    site_values = np.asarray(site_values, dtype=np.float64).reshape(-1)
    uniq, cell_counts = np.unique(values, return_counts=True)
    site_bins = np.searchsorted(uniq, site_values)
    site_counts = np.bincount(site_bins, minlength=uniq.size)
    area = np.r_[0.0, np.cumsum(cell_counts[::-1]) / values.size]
    if site_values.size:
        captured = np.r_[0.0, np.cumsum(site_counts[::-1]) / site_values.size]
    else:
        captured = np.full(area.shape, np.nan)
    return area, captured, uniq[::-1]


def curve_auc(area, captured):
    """Area under a success-rate curve (trapezoids); NaN without sites. 1 is
    perfect, 0.5 random, below 0.5 worse than random."""
    if not np.isfinite(captured).all():
        return float("nan")
    return float(np.sum(np.diff(area) * (captured[1:] + captured[:-1]) / 2.0))


def curve_capture(area, captured, fractions):
    """Share of sites inside the most prospective ``fractions`` of the area, read
    off the curve (a tie group that straddles the cut counts pro rata).
    Returns {fraction: share}."""
    fractions = np.asarray(fractions, dtype=float)
    if ((fractions < 0) | (fractions > 1)).any():
        raise InputError(f"area fractions must lie in [0, 1], got {fractions.tolist()}")
    return {float(f): float(v) for f, v in zip(fractions, np.interp(fractions, area, captured))}


def curve_pa_intersection(area, captured, levels):
    """Where the curve meets the occupied-area line, captured = 1 - area, by
    linear interpolation along the curve: (value of the cells there, prediction
    rate P as a share). Needs at least one site."""
    gap = captured + area - 1.0  # rises from -1 to 1 along the curve
    k = int(np.flatnonzero(gap >= 0)[0]) - 1  # segment where it reaches 0
    w = -gap[k] / (gap[k + 1] - gap[k])
    return float(levels[k]), float(captured[k] + w * (captured[k + 1] - captured[k]))


def cluster_bootstrap(values_by_cluster, n_boot=2000, seed=0, statistic=np.mean):
    """Percentile 95 % interval of ``statistic`` of the pooled values when
    clusters are drawn with replacement. ``values_by_cluster``: list of arrays
    (one per cluster); or a 2-D list of paired arrays, see ``paired_bootstrap``."""
    groups = [np.asarray(v, dtype=float) for v in values_by_cluster if len(v)]
    if len(groups) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats = np.empty(int(n_boot))
    for b in range(int(n_boot)):
        pick = rng.integers(0, len(groups), len(groups))
        stats[b] = statistic(np.concatenate([groups[i] for i in pick]))
    return float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5))


def paired_difference(a_by_cluster, b_by_cluster, n_boot=2000, seed=0):
    """Mean of a - b over sites with its cluster-bootstrap 95 % interval; a and b
    are per-cluster arrays over the same sites (the same draw of clusters for
    both, so what the two maps share cancels)."""
    diffs = [np.asarray(a, float) - np.asarray(b, float) for a, b in zip(a_by_cluster, b_by_cluster)]
    pooled = np.concatenate(diffs) if diffs else np.empty(0)
    low, high = cluster_bootstrap(diffs, n_boot, seed)
    return float(pooled.mean()) if pooled.size else float("nan"), low, high


def window_scores(prob, area_mask, rows, cols, window):
    """Mean map value over the area cells of each window (NaN when none)."""
    prob = np.asarray(prob, dtype=np.float64)
    area = np.asarray(area_mask, dtype=bool)
    out = np.full(len(rows), np.nan)
    for i, (r, c) in enumerate(zip(rows, cols)):
        block = prob[r:r + window, c:c + window][area[r:r + window, c:c + window]]
        block = block[np.isfinite(block)]
        if block.size:
            out[i] = block.mean()
    return out


def gad_samples(sample_xy, site_xy, min_distance=5000.0):
    """The GeoChemAD / OpenGADBench sample sets: the sample nearest to each site
    (positives) and the samples at least ``min_distance`` from every site (the
    pool negatives are drawn from)."""
    from scipy.spatial import cKDTree

    xy = np.asarray(sample_xy, dtype=float)
    sites = np.asarray(site_xy, dtype=float).reshape(-1, 2)
    _, nearest = cKDTree(xy).query(sites, k=1)
    far, _ = cKDTree(sites).query(xy, k=1)
    return np.asarray(nearest, dtype=np.int64).reshape(-1), np.flatnonzero(far >= min_distance)


def gad_auc(positive_values, negative_pool, *, n_negative=32, runs=20, seed=42):
    """The published protocol's AUC: ``runs`` times, ``n_negative`` negatives drawn
    with replacement from ``negative_pool`` by ``numpy.random.default_rng(seed)``
    against all positives; mean and std of the ROC AUC (``roc_auc``). It compares a
    handful of site-adjacent samples with far-away ones, not a map's ranking of
    unseen sites: a score that only marks where samples are dense can do well."""
    pos = np.asarray(positive_values, dtype=float)
    pool = np.asarray(negative_pool, dtype=float)
    pos, pool = pos[np.isfinite(pos)], pool[np.isfinite(pool)]
    if pos.size == 0 or pool.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(int(runs)):
        neg = rng.choice(pool, int(n_negative), replace=True)
        aucs.append(roc_auc(np.r_[np.ones(pos.size), np.zeros(neg.size)], np.r_[pos, neg]))
    return float(np.mean(aucs)), float(np.std(aucs))
