"""Known sites are positives; the rest of the ground is unlabelled, not barren.

Two ways of keeping doubtful windows out of the negatives a model learns from,
applied to a tile index's training windows (the paper split's and each
cross-validation fold's alike):

* ``unlabelled_near_sites``: a window that does not hold a site but lies within
  ``buffer`` of one shares most of its ground with windows that do; calling it
  "without mines" teaches the model that the ground next to a deposit is barren.
  Such windows get the split "unlabelled" and are not trained on.
* ``likely_negatives`` (after MAPER's selection of negatives): of the remaining
  training windows without a site, only the ``fraction`` least like the
  positives stay negatives; likeness is the standardised distance of a window's
  per-channel mean from the positives' mean.
"""

import logging

import numpy as np

from .errors import InputError
from .grid import window_distance

UNLABELLED = "unlabelled"
NEGATIVES = ("all", "likely")
#: the buffer is not applied when it would keep fewer than this share of the
#: negatives (a survey dense in sites, where nearly every window is near one)
MIN_NEGATIVE_SHARE = 0.25

log = logging.getLogger(__name__)


def unlabelled_near_sites(index, grid, window, site_xy, buffer):
    """Copy of ``index`` with training windows without a site but within ``buffer``
    (map units) of one marked ``UNLABELLED``."""
    out = index.copy()
    if not buffer or buffer <= 0 or len(site_xy) == 0:
        return out
    negative = (out["split"] == "train").to_numpy() & (out["label"] == 0).to_numpy()
    d = np.full(len(out), np.inf)
    d[negative] = window_distance(grid, out["row"].to_numpy()[negative], out["col"].to_numpy()[negative], window,
                                  site_xy)
    near = negative & (d <= float(buffer))
    left = int(negative.sum() - near.sum())
    if left < max(2, MIN_NEGATIVE_SHARE * negative.sum()):
        log.warning("tiles.unlabelled_buffer of %g m would leave %d of %d site-free training windows as negatives; "
                    "not applied (sites are too dense for it: lower the buffer or the window)", buffer, left,
                    int(negative.sum()))
        return out
    log.info("%d site-free training windows within %g m of a site are unlabelled, not negatives; %d negatives left",
             int(near.sum()), buffer, left)
    out.loc[near, "split"] = UNLABELLED
    return out


def window_means(windows, ids, batch=256):
    """(n, channels) mean of each window's channels (``windows``: the (N, C, S, S)
    tile array, memory-mapped), read a batch at a time in file order."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.empty((len(ids), windows.shape[1]))
    order = np.argsort(ids, kind="stable")
    for start in range(0, len(ids), batch):
        part = order[start:start + batch]
        out[part] = np.asarray(windows[ids[part]], dtype=np.float64).mean(axis=(2, 3))
    return out


def likely_negatives(index, means, fraction):
    """Copy of ``index`` where, of the training windows without a site, all but the
    ``fraction`` farthest from the positives (``means``: (len(index), channels)
    per-window channel means, NaN rows for windows not kept) are ``UNLABELLED``."""
    if not 0 < float(fraction) <= 1:
        raise InputError(f"tiles.likely_fraction must be in (0, 1], got {fraction}")
    out = index.copy()
    train = (out["split"] == "train").to_numpy()
    pos = train & (out["label"] == 1).to_numpy()
    neg = train & (out["label"] == 0).to_numpy()
    if not pos.any() or not neg.any():
        return out
    means = np.asarray(means, dtype=np.float64)
    scale = means[train].std(axis=0)
    scale[scale == 0] = 1.0
    distance = np.linalg.norm((means[neg] - means[pos].mean(axis=0)) / scale, axis=1)
    keep = int(np.ceil(float(fraction) * neg.sum()))
    # stable: ties keep index order, so the choice does not depend on the platform
    order = np.argsort(-distance, kind="stable")
    drop = np.flatnonzero(neg)[order[keep:]]
    out.loc[out.index[drop], "split"] = UNLABELLED
    return out


def apply_pu(index, windows, grid, window, site_xy, opts):
    """The tiles section's PU settings (``unlabelled_buffer`` in map units, null =
    a quarter of a window; ``negatives``; ``likely_fraction``) applied to a tile ``index``
    whose ``tile_id`` rows index ``windows``. ``site_xy``: the sites a model may
    learn from (a fold's training sites)."""
    buffer = opts.get("unlabelled_buffer")
    if buffer is None:
        buffer = 0.25 * window * grid.cell_size[0]
    out = unlabelled_near_sites(index, grid, window, site_xy, buffer)
    negatives = opts.get("negatives", "all")
    if negatives not in NEGATIVES:
        raise InputError(f"tiles.negatives must be one of {NEGATIVES}, got {negatives!r}")
    if negatives == "likely":
        kept = out["split"].isin(("train", "test", UNLABELLED)).to_numpy()
        means = np.full((len(out), windows.shape[1]), np.nan)
        means[kept] = window_means(windows, out.loc[kept, "tile_id"].to_numpy())
        out = likely_negatives(out, means, opts.get("likely_fraction", 0.5))
    return out
