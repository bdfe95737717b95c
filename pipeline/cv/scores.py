"""Held-out-site scores and their uncertainty.

A map's value at a held-out site is ranked among all cells of the evaluated
area: the site's score is the share of cells scoring below it (ties count
half), so 1 puts the site on the most prospective cell, 0.5 is what a map
without information gives on average. The mean over sites is the
held-out-site AUC (the area under the success-rate curve of those sites). Its
95 % interval comes from a bootstrap over site clusters, the units that are
independent, not over sites.
"""

import numpy as np

from ..errors import InputError


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
    against all positives; mean and std of ``roc_auc_score``. It compares a
    handful of site-adjacent samples with far-away ones, not a map's ranking of
    unseen sites: a score that only marks where samples are dense can do well."""
    from sklearn.metrics import roc_auc_score

    pos = np.asarray(positive_values, dtype=float)
    pool = np.asarray(negative_pool, dtype=float)
    pos, pool = pos[np.isfinite(pos)], pool[np.isfinite(pool)]
    if pos.size == 0 or pool.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(int(runs)):
        neg = rng.choice(pool, int(n_negative), replace=True)
        aucs.append(roc_auc_score(np.r_[np.ones(pos.size), np.zeros(neg.size)], np.r_[pos, neg]))
    return float(np.mean(aucs)), float(np.std(aucs))
