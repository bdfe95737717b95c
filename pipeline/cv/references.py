"""Maps that need no training, to put beside every trained map.

- Each element's IDW raster, as a geologist would look at it.
- Sampling geometry: minus the mean distance from a cell to its k nearest
  samples, so densely sampled ground ranks as prospective. Surveys sample more
  densely where they expect something; a method that scores near this map has
  learnt the survey design, not the chemistry.
- A robust multivariate anomaly: the Mahalanobis distance of a cell's
  log-transformed element values from a minimum-covariance-determinant
  estimate of the background.
- A campaign probe (when the survey names the company report of each sample):
  the share of training-site cells among the cells whose nearest sample came
  from the same campaign. It knows nothing of chemistry; if it finds held-out
  sites, a model can do the same through campaign-specific codes.
"""

import numpy as np
from scipy.spatial import cKDTree

from ..errors import InputError
from ..records import read_json

#: cells used to fit the robust covariance (the fit grows with the square of it)
MCD_SAMPLE = 5000


def _query_cells(grid, points_xy, k=1, block_rows=256, **kwargs):
    """Distances (rows, cols, k) and indices of the ``k`` nearest points of every
    cell centre, queried a block of rows at a time (bounded temporaries)."""
    tree = cKDTree(np.asarray(points_xy, dtype=float))
    dist = np.empty((grid.height, grid.width, k), dtype=np.float32)
    index = np.empty((grid.height, grid.width, k), dtype=np.int64)
    for r0 in range(0, grid.height, block_rows):
        r1 = min(r0 + block_rows, grid.height)
        xs, ys = grid.cell_centres(r0, r1)
        gx, gy = np.meshgrid(xs, ys)
        d, i = tree.query(np.column_stack([gx.ravel(), gy.ravel()]), k=k, **kwargs)
        dist[r0:r1] = np.asarray(d).reshape(r1 - r0, grid.width, k)
        index[r0:r1] = np.asarray(i).reshape(r1 - r0, grid.width, k)
    return dist, index


def sampled_area(grid, sample_xy, max_distance=None):
    """Cells with a sample within ``max_distance`` (every cell when None): the
    area the IDW rasters cover and the one every map is ranked over."""
    if max_distance is None:
        return np.ones(grid.shape, dtype=bool)
    dist, _ = _query_cells(grid, sample_xy, 1, distance_upper_bound=float(max_distance))
    return np.isfinite(dist[..., 0])


def sampling_density_map(grid, sample_xy, k=8, area_mask=None):
    """Minus the mean distance (map units) from each cell to its ``k`` nearest
    samples; NaN outside ``area_mask``."""
    k = int(min(k, len(sample_xy)))
    if k < 1:
        raise InputError("the survey has no samples to measure the sampling density from")
    dist, _ = _query_cells(grid, sample_xy, k)
    out = -dist.mean(axis=-1)
    if area_mask is not None:
        out = np.where(area_mask, out, np.nan)
    return out.astype(np.float32)


def robust_anomaly_map(bands, names, area_mask, seed=0):
    """Mahalanobis distance of each cell's log10 values from a robust (MCD)
    background. ``bands``: (k, rows, cols) concentrations with NaN as nodata.

    Elements with no spread after the log (mostly censored) are left out and
    returned in ``dropped``. Returns (map with NaN outside the area or where an
    element is missing, used names, dropped names).
    """
    from sklearn.covariance import MinCovDet

    bands = np.asarray(bands, dtype=np.float64)
    area = np.asarray(area_mask, dtype=bool)
    logs, used, dropped = [], [], []
    for name, band in zip(names, bands):
        values = band[area & np.isfinite(band)]
        positive = values[values > 0]
        if positive.size == 0:
            dropped.append(name)
            continue
        # non-positive concentrations (zero-coded censoring) sit at half the smallest positive value
        logged = np.log10(np.where(band > 0, band, positive.min() / 2.0))
        centre = np.nanmedian(logged[area])
        mad = np.nanmedian(np.abs(logged[area] - centre))
        if not np.isfinite(mad) or mad == 0:
            dropped.append(name)
            continue
        logs.append((logged - centre) / mad)
        used.append(name)
    if not used:
        raise InputError("no element varies enough over the sampled area for the robust anomaly map")
    x = np.stack(logs, axis=-1)[area]
    ok = np.isfinite(x).all(axis=1)
    if ok.sum() < 2 * len(used) + 2:
        raise InputError(f"only {int(ok.sum())} cells hold every element of {used}: too few for a covariance")
    rng = np.random.default_rng(seed)
    fit_rows = np.flatnonzero(ok)
    if fit_rows.size > MCD_SAMPLE:
        fit_rows = np.sort(rng.choice(fit_rows, MCD_SAMPLE, replace=False))
    mcd = MinCovDet(random_state=int(seed)).fit(x[fit_rows])
    out = np.full(area.shape, np.nan)
    flat = np.full(x.shape[0], np.nan)
    flat[ok] = np.sqrt(mcd.mahalanobis(x[ok]))
    out[area] = flat
    return out.astype(np.float32), used, dropped


def nearest_campaign(grid, sample_xy, campaigns):
    """Campaign of the nearest sample of every cell, as codes into the returned names."""
    names, codes = np.unique(np.asarray(campaigns).astype(str), return_inverse=True)
    _, nearest = _query_cells(grid, sample_xy, 1)
    return codes[nearest[..., 0]], names


def campaign_probe_map(campaign_codes, positive_mask, train_mask, area_mask):
    """Per-pixel model with the campaign as its only feature: each cell scores the
    (Laplace-smoothed) share of training positives among the training cells of
    its campaign. What any per-pixel classifier on that one categorical feature
    would learn."""
    codes = np.asarray(campaign_codes)
    train = np.asarray(train_mask, bool) & np.asarray(area_mask, bool)
    n = codes.max() + 1 if codes.size else 0
    total = np.bincount(codes[train], minlength=n).astype(float)
    hits = np.bincount(codes[train & np.asarray(positive_mask, bool)], minlength=n).astype(float)
    rate = (hits + 1.0) / (total + 2.0)
    return np.where(area_mask, rate[codes], np.nan).astype(np.float32)


def reference_map_paths(rasters_dir, density_path, anomaly_path):
    """{name: GeoTIFF} of every reference map: sampling density, robust anomaly and
    each element raster of the interpolate stage (``idw_{element}``, in rasters.json order)."""
    from pathlib import Path

    folder = Path(rasters_dir)
    maps = {"sampling_density": str(density_path), "robust_anomaly": str(anomaly_path)}
    elements = read_json(folder / "rasters.json")["elements"]
    maps.update({f"idw_{e}": str(folder / f"{e}.tif") for e in elements})
    return maps
