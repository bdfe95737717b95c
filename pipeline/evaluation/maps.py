"""Map-level evaluation of a prospectivity raster against known sites.

Window metrics say how well tiles are classified; these say how useful the map
is for targeting: how many sites fall in the most prospective few per cent of
the area (success-rate curve, capture at area), where the prediction-area
plot of Yousefi and Carranza (2015) puts its intersection, and how well the
value at a site separates from the value at cells away from any site.

``prob`` is a 2-D array on ``grid`` with NaN as nodata; any monotone score
works, it need not lie in [0, 1]. ``area_mask`` (boolean, grid shape) limits
the evaluated area, e.g. to the test part below the train/test boundary. Sites
outside the grid, on nodata or outside the area are counted and left out.

The scores themselves are computed on plain arrays by ``pipeline.cv.scores``
(the exact success-rate curve, its AUC, capture and P-A intersection) and
``pipeline.evaluation.metrics.roc_auc``; this module reads the values off the
raster and keeps the counts.
"""

import numpy as np
from scipy.spatial import cKDTree

from ..cv.scores import curve_auc, curve_capture, curve_pa_intersection, success_curve
from ..errors import InputError
from .metrics import roc_auc

DEFAULT_FRACTIONS = (0.05, 0.10, 0.20)


def part_mask(grid, split_row, part="test"):
    """Boolean raster of one side of the train/test boundary: "test" is rows
    >= ``split_row``, "train" the rows above."""
    mask = np.zeros(grid.shape, dtype=bool)
    if part == "test":
        mask[int(split_row):] = True
    elif part == "train":
        mask[:int(split_row)] = True
    else:
        raise InputError(f"part must be 'train' or 'test', got {part!r}")
    return mask


def sites_in_part(grid, site_xy, split_row, part="test"):
    """Per site: whether its cell lies inside the grid on the given side of
    ``split_row`` ("test": row >= split_row)."""
    xy = _site_array(site_xy)
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    inside = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
    if part == "test":
        return inside & (rows >= int(split_row))
    if part == "train":
        return inside & (rows < int(split_row))
    raise InputError(f"part must be 'train' or 'test', got {part!r}")


def _site_array(site_xy):
    xy = np.asarray(site_xy, dtype=float)
    if xy.size == 0:
        return np.empty((0, 2))
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise InputError(f"site coordinates must be an (n, 2) array of x, y, got shape {xy.shape}")
    bad = np.flatnonzero(~np.isfinite(xy).all(axis=1))
    if bad.size:
        raise InputError("site coordinates hold NaN or infinite values", rows=bad.tolist())
    return xy


def _valid_cells(prob, grid, area_mask):
    prob = np.asarray(prob, dtype=np.float64)
    if prob.shape != grid.shape:
        raise InputError(f"probability raster shape {prob.shape} does not match the grid {grid.shape}")
    valid = np.isfinite(prob)
    if area_mask is not None:
        area_mask = np.asarray(area_mask, dtype=bool)
        if area_mask.shape != grid.shape:
            raise InputError(f"area mask shape {area_mask.shape} does not match the grid {grid.shape}")
        valid &= area_mask
    return prob, valid


def locate_sites(prob, grid, site_xy, *, area_mask=None):
    """Cells of the usable sites and the counts of those left out.

    Returns (rows, cols, counts); counts holds n_sites, n_sites_outside_grid,
    n_sites_on_nodata, n_sites_outside_area and n_sites_used.
    """
    prob, valid = _valid_cells(prob, grid, area_mask)
    xy = _site_array(site_xy)
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    inside = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
    r, c = np.where(inside, rows, 0), np.where(inside, cols, 0)
    has_data = inside & np.isfinite(prob[r, c])
    in_area = has_data & (valid[r, c] if area_mask is not None else True)
    counts = {"n_sites": int(len(xy)),
              "n_sites_outside_grid": int((~inside).sum()),
              "n_sites_on_nodata": int((inside & ~has_data).sum()),
              "n_sites_outside_area": int((has_data & ~in_area).sum()),
              "n_sites_used": int(in_area.sum())}
    return rows[in_area], cols[in_area], counts


def _full_curve(prob, grid, site_xy, area_mask):
    """Exact success-rate curve of the usable sites over the valid cells of the
    area (``pipeline.cv.scores.success_curve``): (area, captured, counts, levels)."""
    prob, valid = _valid_cells(prob, grid, area_mask)
    rows, cols, counts = locate_sites(prob, grid, site_xy, area_mask=area_mask)
    values = prob[valid]
    if values.size == 0:
        raise InputError("the probability raster has no valid cells in the evaluated area")
    area, captured, levels = success_curve(values, prob[rows, cols])
    counts["n_cells"] = int(values.size)
    return area, captured, counts, levels


def success_rate_curve(prob, grid, site_xy, *, area_mask=None, max_points=2001):
    """Share of sites captured against share of area, cells ranked from the most
    prospective down.

    Returns a dict: ``area_fraction`` and ``captured_fraction`` (both from 0 to
    1; resampled onto ``max_points`` evenly spaced area fractions when the
    exact curve is longer), ``auc`` (from the exact curve: 1 is perfect, 0.5
    random, below 0.5 worse than random) and the site and cell counts.
    """
    area, captured, counts, _ = _full_curve(prob, grid, site_xy, area_mask)
    auc = curve_auc(area, captured)
    if max_points and area.size > max_points:
        grid_area = np.linspace(0.0, 1.0, int(max_points))
        captured = np.interp(grid_area, area, captured)
        area = grid_area
    return {"area_fraction": area, "captured_fraction": captured, "auc": auc, **counts}


def capture_at_area(prob, grid, site_xy, fractions=DEFAULT_FRACTIONS, *, area_mask=None):
    """Share of sites inside the most prospective ``fractions`` of the area.

    Read off the exact success-rate curve, so a tie group that straddles the
    cut counts pro rata. Returns {fraction: share}.
    """
    area, captured, _, _ = _full_curve(prob, grid, site_xy, area_mask)
    return curve_capture(area, captured, fractions)


def prediction_area(prob, grid, site_xy, *, area_mask=None, n_thresholds=101):
    """Prediction-area (P-A) plot data (Yousefi and Carranza 2015).

    Plot data, for ``n_thresholds`` thresholds evenly spaced over the value
    range: ``pct_sites`` (% of sites in cells >= threshold, the prediction
    rate) and ``pct_area`` (% of area >= threshold).

    The intersection is where the prediction-rate curve meets the occupied-area
    curve drawn on a reversed axis, i.e. pct_sites = 100 - pct_area. It is
    found on the exact ranking (every distinct value a threshold, cells of
    equal value spread evenly, as in ``success_rate_curve``) by linear
    interpolation, so it does not depend on ``n_thresholds`` and exists even
    for maps whose sites all share the top value. Reported there:
    ``threshold`` (the value of the cells where the curves meet),
    ``prediction_rate`` (P), ``occupied_area`` (100 - P), ``normalized_density``
    (P / occupied area; 1 for a useless map) and ``weight`` (its natural log).
    NaN when no site is usable.
    """
    prob, valid = _valid_cells(prob, grid, area_mask)
    rows, cols, counts = locate_sites(prob, grid, site_xy, area_mask=area_mask)
    values = np.sort(prob[valid])
    if values.size == 0:
        raise InputError("the probability raster has no valid cells in the evaluated area")
    site_values = np.sort(prob[rows, cols])
    thresholds = np.linspace(values[0], values[-1], int(n_thresholds))
    pct_area = 100.0 * (values.size - np.searchsorted(values, thresholds, "left")) / values.size
    if site_values.size:
        pct_sites = 100.0 * (site_values.size - np.searchsorted(site_values, thresholds, "left")) / site_values.size
    else:
        pct_sites = np.full(thresholds.shape, np.nan)
    out = {"thresholds": thresholds, "pct_sites": pct_sites, "pct_area": pct_area,
           "threshold": float("nan"), "prediction_rate": float("nan"), "occupied_area": float("nan"),
           "normalized_density": float("nan"), "weight": float("nan"), **counts, "n_cells": int(values.size)}
    if site_values.size == 0:
        return out
    area, captured, _, levels = _full_curve(prob, grid, site_xy, area_mask)
    threshold, share = curve_pa_intersection(area, captured, levels)
    rate = 100.0 * share
    occupied = 100.0 - rate
    density = rate / occupied if occupied > 0 else float("inf")
    out.update(threshold=threshold, prediction_rate=rate, occupied_area=occupied,
               normalized_density=float(density),
               weight=float(np.log(density)) if density > 0 else float("-inf"))
    return out


def sample_background_cells(valid_mask, grid, exclude_xy, n, min_distance, rng=None):
    """Up to ``n`` distinct random cells of ``valid_mask`` whose centres lie at
    least ``min_distance`` (map units) from every point of ``exclude_xy``.

    Returns (rows, cols); fewer than ``n`` when fewer cells qualify.
    """
    valid_mask = np.asarray(valid_mask, dtype=bool)
    rng = np.random.default_rng(rng)
    candidates = rng.permutation(np.flatnonzero(valid_mask.ravel()))
    xy = _site_array(exclude_xy)
    tree = cKDTree(xy) if len(xy) and min_distance > 0 else None
    dx, dy = grid.cell_size
    kept, n_kept = [], 0
    for start in range(0, candidates.size, 65536):  # chunks: stop early on big rasters
        chunk = candidates[start:start + 65536]
        if tree is not None:
            r, c = np.divmod(chunk, grid.width)
            pts = np.column_stack([grid.transform.c + (c + 0.5) * dx, grid.transform.f - (r + 0.5) * dy])
            dist, _ = tree.query(pts, distance_upper_bound=min_distance)
            chunk = chunk[dist >= min_distance]
        kept.append(chunk[: n - n_kept])
        n_kept += kept[-1].size
        if n_kept >= n:
            break
    flat = np.concatenate(kept) if kept else np.empty(0, dtype=np.int64)
    return np.divmod(flat, grid.width)


def site_vs_background_auc(prob, grid, site_xy, n_background=10000, min_distance=0.0, rng=None, *,
                           area_mask=None, exclude_xy=None):
    """ROC AUC of the value at sites against random background cells.

    Background cells are valid cells of the area at least ``min_distance`` from
    every point of ``exclude_xy`` (default ``site_xy``; pass all known sites
    when ``site_xy`` is a subset, so that no cell near any site counts as
    background). Returns auc, n_background and the site counts.
    """
    prob, valid = _valid_cells(prob, grid, area_mask)
    rows, cols, counts = locate_sites(prob, grid, site_xy, area_mask=area_mask)
    exclude = site_xy if exclude_xy is None else exclude_xy
    b_rows, b_cols = sample_background_cells(valid, grid, exclude, int(n_background), float(min_distance), rng)
    site_values, background = prob[rows, cols], prob[b_rows, b_cols]
    auc = float("nan")
    if site_values.size and background.size:
        y = np.r_[np.ones(site_values.size), np.zeros(background.size)]
        auc = roc_auc(y, np.r_[site_values, background])
    return {"auc": auc, "n_background": int(background.size), "min_distance": float(min_distance), **counts}


def evaluate_map(prob, grid, site_xy, site_mask=None, *, area_mask=None, fractions=DEFAULT_FRACTIONS,
                 n_thresholds=101, n_background=10000, min_distance=None, seed=0, max_points=2001):
    """All map metrics for the sites selected by ``site_mask`` (default all).

    Run it once on the test-part sites (with ``area_mask`` = test part) and once
    on all sites, and label the two. Background cells stay ``min_distance``
    (default 3 cells) away from every site in ``site_xy``, selected or not.
    Returns a flat dict of scalars plus ``curves`` (success-rate and P-A arrays).
    """
    xy = _site_array(site_xy)
    if site_mask is None:
        selected = xy
    else:
        site_mask = np.asarray(site_mask, dtype=bool).reshape(-1)
        if site_mask.size != len(xy):
            raise InputError(f"site mask has {site_mask.size} entries for {len(xy)} sites")
        selected = xy[site_mask]
    if min_distance is None:
        min_distance = 3.0 * max(grid.cell_size)
    curve = success_rate_curve(prob, grid, selected, area_mask=area_mask, max_points=max_points)
    capture = capture_at_area(prob, grid, selected, fractions, area_mask=area_mask)
    pa = prediction_area(prob, grid, selected, area_mask=area_mask, n_thresholds=n_thresholds)
    bg = site_vs_background_auc(prob, grid, selected, n_background, min_distance, seed,
                                area_mask=area_mask, exclude_xy=xy)
    out = {"n_sites_total": int(len(xy)), "n_sites_selected": int(len(selected))}
    out.update({k: curve[k] for k in ("n_sites_outside_grid", "n_sites_on_nodata", "n_sites_outside_area",
                                      "n_sites_used", "n_cells")})
    out["success_rate_auc"] = curve["auc"]
    for f, share in capture.items():
        out[f"capture_at_{f * 100:g}pct_area"] = share
    out.update({f"pa_{k}": pa[k] for k in ("threshold", "prediction_rate", "occupied_area",
                                           "normalized_density", "weight")})
    out["site_vs_background_auc"] = bg["auc"]
    out["n_background"] = bg["n_background"]
    out["background_min_distance"] = float(min_distance)
    out["curves"] = {"success_rate": {"area_fraction": curve["area_fraction"],
                                      "captured_fraction": curve["captured_fraction"]},
                     "prediction_area": {k: pa[k] for k in ("thresholds", "pct_sites", "pct_area")}}
    return out


def evaluate_map_file(path, site_xy, site_mask=None, band=1, **kwargs):
    """``evaluate_map`` on one band of a GeoTIFF (nodata read as NaN)."""
    from ..rasters import read_band

    prob, grid = read_band(path, band)
    return evaluate_map(prob, grid, site_xy, site_mask, **kwargs)
