"""Element screening inside one fold: the labels come from the training sites
only, and samples near a held-out site are left out, so the selection never
sees a held-out site."""

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..screening import COLUMNS, label_by_distance, screen_elements
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
    y = labels[keep]
    min_size = int(screen_opts.get("min_class_size", 10))
    if min(int(y.sum()), int(len(y) - y.sum())) < min_size:
        table = unscreened(elements, y, available, screen_opts.get("explicit"), min_size)
        table["n_left_out"] = int((~keep).sum())
        return table
    table = screen_elements(samples.loc[keep].reset_index(drop=True), elements, y, **screen_opts)
    table["screening"] = "screened"
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


def unscreened(elements, labels, available, explicit, min_size):
    """The table of a fold whose training sites label too few samples to screen
    (fewer than ``min_size`` in a class, e.g. when the fold holds out the cluster
    where the survey sampled most sites): no AUC is computed, and the fold's
    models take every element they can use (or the explicit ``screen.elements``).
    Nothing here looks at the held-out sites."""
    c_p, c_n = int(np.sum(labels)), int(len(labels) - np.sum(labels))
    table = pd.DataFrame({"element": list(elements)})
    for column in COLUMNS[1:-1]:
        table[column] = np.nan
    table["n_with_mines"], table["n_without_mines"] = c_p, c_n
    chosen = list(explicit) if explicit else list(available if available is not None else elements)
    table["selected"] = table["element"].isin(chosen)
    table["screening"] = (f"skipped: {c_p} samples near training sites and {c_n} away, fewer than "
                          f"screen.min_class_size = {min_size}; every usable element kept")
    return table
