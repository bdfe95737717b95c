"""The vote of several trained maps: each map's cells ranked within the sampled
area (``commodity.rank_map``), then averaged. Ranks, not probabilities, so that
no member's calibration or spread outweighs the others; a cell takes the mean
of the members that have a value there."""

import numpy as np

from ..errors import InputError
from .commodity import rank_map


def mean_rank(maps, area_mask):
    """(rows, cols) mean of the members' rank maps; NaN outside the area and
    where no member has a value. ``maps``: a sequence of 2-D arrays."""
    maps = [np.asarray(m, dtype=np.float64) for m in maps]
    if len(maps) < 2:
        raise InputError(f"an ensemble needs at least two members, got {len(maps)}")
    area = np.asarray(area_mask, bool)
    ranks = np.stack([rank_map(m, area) for m in maps])
    held = np.isfinite(ranks)
    count = held.sum(axis=0)
    total = np.where(held, ranks, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(count > 0, total / count, np.nan)
    return np.where(area, out, np.nan)
