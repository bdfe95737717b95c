"""Multi-scale neighbourhood features: what a window model sees around a cell,
given to a per-cell learner so that its map keeps the grid's resolution.

For every band and radius r (cells): the mean and the maximum over the
(2r+1)-cell square around the cell, and the magnitude of the gradient of the
mean; unknown cells are left out of each statistic (a normalised box
filter), and a cell whose neighbourhood holds no value gets NaN. Each filter
is a separable running sum or maximum, so the cost is linear in the grid
whatever the radius.
"""

import numpy as np
from scipy import ndimage

#: neighbourhood radii in cells (the cell itself is radius 0, always included)
RADII = (2, 5, 10)


def _box_mean(values, radius):
    known = np.isfinite(values)
    size = 2 * radius + 1
    total = ndimage.uniform_filter(np.where(known, values, 0.0), size=size, mode="constant")
    count = ndimage.uniform_filter(known.astype(np.float64), size=size, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 1e-12, total / count, np.nan)


def _box_max(values, radius):
    size = 2 * radius + 1
    filled = np.where(np.isfinite(values), values, -np.inf)
    out = ndimage.maximum_filter(filled, size=size, mode="constant", cval=-np.inf)
    return np.where(np.isfinite(out), out, np.nan)


def neighbourhood_features(bands, names, radii=RADII):
    """(features (f, rows, cols), feature names) of ``bands`` (k, rows, cols)."""
    bands = np.asarray(bands, dtype=np.float64)
    out, labels = [], []
    for name, values in zip(names, bands):
        out.append(values)
        labels.append(f"{name}")
        for r in radii:
            mean = _box_mean(values, int(r))
            gy, gx = np.gradient(np.where(np.isfinite(mean), mean, 0.0))
            out += [mean, _box_max(values, int(r)), np.where(np.isfinite(mean), np.hypot(gx, gy), np.nan)]
            labels += [f"{name} mean r{r}", f"{name} max r{r}", f"{name} gradient r{r}"]
    return np.stack(out).astype(np.float32), labels
