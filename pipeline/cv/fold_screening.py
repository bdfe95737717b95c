"""Element screening inside one fold: the labels come from the training sites
only, and samples near a held-out site are left out, so the selection never
sees a held-out site."""

import numpy as np
from scipy.spatial import cKDTree

from ..screening import label_by_distance, screen_elements
from .folds import fold_sites


def fold_sample_labels(sample_xy, plan, fold, label_radius, buffer):
    """(labels from the training sites, keep mask) of the samples in one fold;
    samples within ``buffer`` of a held-out site are not kept."""
    xy = np.asarray(sample_xy, dtype=float)
    held_xy, train_xy = fold_sites(plan, fold)
    labels, _ = label_by_distance(xy, train_xy, label_radius)
    keep = np.ones(len(xy), dtype=bool)
    if len(held_xy):
        d, _ = cKDTree(held_xy).query(xy, k=1)
        keep = d > buffer
    return labels, keep


def screen_fold(samples, elements, plan, fold, *, label_radius, buffer, available=None, **screen_opts):
    """The screening table of one fold (``pipeline.screening.screen_elements``),
    with ``n_left_out`` samples near held-out sites. ``available``: elements the
    fold's models can use (the cross-validation stack's bands); a selection
    outside it falls back to the best of them."""
    labels, keep = fold_sample_labels(samples[["x", "y"]].to_numpy(), plan, fold, label_radius, buffer)
    table = screen_elements(samples.loc[keep].reset_index(drop=True), elements, labels[keep], **screen_opts)
    if available is not None:
        usable = table["element"].isin(list(available)).to_numpy()
        selected = table["selected"].to_numpy() & usable
        if not selected.any():
            z = np.where(usable, table["z_auc"].to_numpy(dtype=float), np.nan)
            if np.isfinite(z).any():
                selected[int(np.nanargmax(z))] = True
            else:
                selected[int(np.flatnonzero(usable)[0])] = True
        table["selected"] = selected
    table["n_left_out"] = int((~keep).sum())
    return table
