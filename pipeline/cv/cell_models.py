"""One fold's map from a cell learner (``pipeline.learners``): weights of
evidence, the reference-anchored logistic model, the context forest.

Every learner sees the fold's training area only: the sampled area minus the
buffer around the held-out sites. Deposits (WofE) are the cells of the fold's
training sites; positives (the others) are the training-area cells within the
label distance of one. The anchor of the anchored model is fixed without the
held-out sites: the commodity reference map (``evaluate.commodity``), or the
stack band that ranks the fold's training sites highest (``anchor: nested``).
Each writes its probability GeoTIFF, a multi-band GeoTIFF of each input's
share of the cell's logit where the learner decomposes exactly (WofE, the
anchored model), and a JSON of what was fitted.
"""

import logging

import numpy as np

from ..errors import InputError
from ..grid import near_points_mask
from ..learners import anchored, context, wofe
from ..rasters import read_band, write_geotiff
from .commodity import rank_map
from .folds import fold_sites
from .scores import site_scores
from .yardstick import best_on_sites

log = logging.getLogger("pipeline.cv")

METHODS = ("wofe", "anchored_logistic", "context_forest")


def varying_window_share(prob, window, area=None):
    """Share of the non-overlapping ``window``-cell squares (those wholly in
    ``area`` and with values) whose cells do not all hold one value: 0 for a
    map painted one value a window, near 1 for a map at cell resolution."""
    prob = np.asarray(prob, dtype=np.float64)
    area = np.isfinite(prob) if area is None else np.asarray(area, bool) & np.isfinite(prob)
    varying, total = 0, 0
    for r in range(0, prob.shape[0] - window + 1, window):
        for c in range(0, prob.shape[1] - window + 1, window):
            if area[r:r + window, c:c + window].all():
                block = prob[r:r + window, c:c + window]
                total += 1
                varying += int(np.ptp(block) > 0)
    return varying / total if total else float("nan")


def read_stack(stack_path, elements):
    """(bands (k, rows, cols) float64 with NaN, grid) of the named stack bands."""
    import rasterio

    from ..baselines.classical import stack_band_indexes
    from ..rasters import grid_of

    with rasterio.open(stack_path) as src:
        ids = stack_band_indexes(src.descriptions, elements, stack_path)
        data = src.read(ids, masked=True).astype(np.float64).filled(np.nan)
    return data, grid_of(stack_path)


def _cells_on(grid, xy, mask):
    """(rows, cols) of the points whose cell lies on ``mask``."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if not len(xy):
        return np.empty(0, int), np.empty(0, int)
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    rows, cols = np.asarray(rows), np.asarray(cols)
    inside = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
    rows, cols = rows[inside], cols[inside]
    on = np.asarray(mask, bool)[rows, cols]
    return rows[on], cols[on]


def fold_setting(grid, plan, fold, area, *, label_distance, buffer):
    """The fold's training area, positive cells and training-site cells."""
    held_xy, train_xy = fold_sites(plan, fold)
    training = np.asarray(area, bool) & ~near_points_mask(grid, held_xy, buffer)
    positive = training & near_points_mask(grid, train_xy, label_distance)
    rows, cols = _cells_on(grid, train_xy, training)
    deposit = np.zeros(grid.shape, bool)
    deposit[rows, cols] = True
    return {"training": training, "positive": positive, "deposit": deposit, "train_xy": train_xy,
            "site_rows": rows, "site_cols": cols}


def anchor_rank(kind, area, setting, *, commodity_path=None, bands=None, names=None):
    """(rank map of the anchor in the area, its name). ``commodity``: the
    commodity reference map; ``nested``: the band among ``bands`` that ranks
    the fold's training sites highest."""
    if kind == "commodity":
        if commodity_path is None:
            raise InputError("anchor: commodity needs the commodity reference map")
        values, _ = read_band(commodity_path)
        return rank_map(values, area), "reference_commodity"
    if kind == "nested":
        maps = {str(n): b for n, b in zip(names, bands)}
        best, _ = best_on_sites(maps, area, setting["site_rows"], setting["site_cols"])
        return rank_map(maps[best], area), best
    raise InputError(f"anchor must be commodity or nested, got {kind!r}")


def inner_folds(grid, plan, fold, setting, *, label_distance, buffer):
    """Leave-one-cluster-out over the fold's training sites: per inner fold,
    (positive mask, negative pool, held rows, held cols), built from the
    fold's training area alone."""
    out = []
    train = [s for s in plan["sites"] if s["fold"] != int(fold)]
    clusters = sorted({s["cluster"] for s in train})
    for c in clusters:
        held = np.array([[s["x"], s["y"]] for s in train if s["cluster"] == c]).reshape(-1, 2)
        rest = np.array([[s["x"], s["y"]] for s in train if s["cluster"] != c]).reshape(-1, 2)
        inner_area = setting["training"] & ~near_points_mask(grid, held, buffer)
        positive = inner_area & near_points_mask(grid, rest, label_distance)
        rows, cols = _cells_on(grid, held, setting["training"])
        if rows.size and positive.any():
            out.append((positive, inner_area & ~positive, rows, cols))
    return out


def _write_parts(path, parts, names, grid, area, tags):
    parts = np.where(np.asarray(area, bool)[None], parts, np.nan).astype(np.float32)
    write_geotiff(path, parts, grid, [f"logit share: {n}" for n in names], tags=tags)


def fit_wofe(bands, names, setting, area):
    """Probability, variance, contributions, their names and the fitted model."""
    model = wofe.fit(bands, names, setting["training"], setting["deposit"])
    prob, var = wofe.posterior(model, bands, names)
    parts, used = wofe.contributions(model, bands, names)
    prob = np.where(area, prob, np.nan)
    model["independence"] = wofe.independence_check(model, prob, setting["training"])
    return prob, np.where(area, var, np.nan), parts, used, model


def fit_anchored(bands, names, setting, area, anchor, inner, *, max_negatives, seed):
    offset = anchored.offset_of(anchor)
    valid = np.isfinite(offset)
    positive = setting["positive"] & valid
    pool = setting["training"] & ~setting["positive"] & valid

    def score(prob, rows, cols):
        return site_scores(np.where(area, prob, np.nan), area, rows, cols)[0]

    inner = [(p & valid, q & valid, r, c) for p, q, r, c in inner]
    penalty, inner_means = anchored.choose_penalty(bands, np.where(valid, offset, 0.0), inner, score,
                                                   max_negatives=max_negatives, seed=seed)
    a, b = anchored.fit(bands, np.where(valid, offset, 0.0), positive, pool, max_negatives=max_negatives,
                        penalty=penalty, seed=seed)
    prob = np.where(area & valid, anchored.predict(bands, np.where(valid, offset, 0.0), a, b), np.nan)
    parts, base = anchored.logit_parts(bands, np.where(valid, offset, 0.0), a, b)
    model = {"penalty": None if not np.isfinite(penalty) else penalty, "intercept": a,
             "coefficients": dict(zip(map(str, names), map(float, b))),
             "inner_scores": {("inf" if not np.isfinite(p) else f"{p:g}"): m for p, m in inner_means.items()},
             "n_inner_folds": len(inner), "reference_only": bool(not np.isfinite(penalty))}
    return prob, np.concatenate([base[None], parts]), ["reference (offset + intercept)", *map(str, names)], model


def fit_context_forest(bands, names, setting, area, *, radii, max_samples, seed, n_jobs):
    from ..baselines.classical import _proba, make_classifier

    features, labels = context.neighbourhood_features(bands, names, radii)
    flat = np.nan_to_num(features.reshape(len(labels), -1), nan=0.0)
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(setting["positive"])
    neg = np.flatnonzero(setting["training"] & ~setting["positive"])
    if pos.size < 2 or neg.size < 2:
        raise InputError(f"context forest: {pos.size} positive and {neg.size} negative training cells")
    n_pos = min(pos.size, max_samples // 2)
    pos = rng.choice(pos, n_pos, replace=False)
    neg = rng.choice(neg, min(neg.size, n_pos), replace=False)
    y = np.r_[np.ones(pos.size, int), np.zeros(neg.size, int)]
    model = make_classifier("random_forest", y, seed=seed, n_jobs=n_jobs)
    model.fit(flat[:, np.r_[pos, neg]].T, y)
    cells = np.flatnonzero(np.asarray(area, bool).reshape(-1))
    prob = np.full(area.size, np.nan)
    prob[cells] = _proba(model, flat[:, cells].T)
    importance = dict(zip(labels, map(float, model.feature_importances_)))
    top = dict(sorted(importance.items(), key=lambda kv: -kv[1])[:10])
    return prob.reshape(area.shape), {"features": len(labels), "radii": list(radii), "top_importance": top,
                                       "sampled_with_mines": int(pos.size), "sampled_without_mines": int(neg.size)}


def cell_fold_map(method, stack_path, density_path, elements, plan, fold, out_path, parts_path, *,
                  label_distance, buffer, settings, commodity_path=None, seed=0, n_jobs=1):
    """Fit one cell learner in one fold; write its probability map (band 1;
    WofE adds the posterior variance as band 2) and, where the learner
    decomposes, the logit shares (``parts_path``; one band 'none' otherwise).
    Returns the JSON-ready record of the fit."""
    if method not in METHODS:
        raise InputError(f"unknown cell learner {method!r}; choose one of {', '.join(METHODS)}")
    bands, grid = read_stack(stack_path, elements)
    density, _ = read_band(density_path)
    area = np.isfinite(density)
    setting = fold_setting(grid, plan, fold, area, label_distance=label_distance, buffer=buffer)
    tags = {"method": method, "form": "cell", "fold": fold, "elements": ",".join(elements)}
    record = {"method": method, "fold": int(fold), "elements": list(elements),
              "training_sites_on_area": int(setting["site_rows"].size),
              "positive_cells": int(setting["positive"].sum()), "training_cells": int(setting["training"].sum())}
    if method == "wofe":
        prob, var, parts, used, model = fit_wofe(bands, elements, setting, area)
        write_geotiff(out_path, np.stack([prob, var]).astype(np.float32), grid,
                      ["wofe posterior probability", "wofe posterior variance"], tags=tags)
        record.update(model=model)
        names = used
    elif method == "anchored_logistic":
        kind = settings["anchor"]
        anchor, anchor_name = anchor_rank(kind, area, setting, commodity_path=commodity_path, bands=bands,
                                          names=elements)
        inner = inner_folds(grid, plan, fold, setting, label_distance=label_distance, buffer=buffer)
        prob, parts, names, model = fit_anchored(bands, elements, setting, area, anchor, inner,
                                                 max_negatives=int(settings["max_negatives"]), seed=seed)
        write_geotiff(out_path, prob.astype(np.float32), grid, ["anchored logistic probability"],
                      tags={**tags, "anchor": anchor_name})
        record.update(model=dict(model, anchor=anchor_name))
    else:
        prob, model = fit_context_forest(bands, elements, setting, area, radii=settings["context_radii"],
                                         max_samples=int(settings["max_negatives"]), seed=seed, n_jobs=n_jobs)
        write_geotiff(out_path, prob.astype(np.float32), grid, ["context forest probability"], tags=tags)
        record.update(model=model)
        parts, names = np.full((1,) + grid.shape, np.nan), ["none (no exact decomposition)"]
    if not len(names):
        parts, names = np.full((1,) + grid.shape, np.nan), ["none (no layer used)"]
    _write_parts(parts_path, parts, names, grid, area, tags)
    log.info("%s fold %d: %s", method, fold, {k: v for k, v in record.items() if k != "model"})
    return record
