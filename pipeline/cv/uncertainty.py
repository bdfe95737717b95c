"""Per-cell spread of one trained method's cross-validation models.

Every fold of the spatial cross-validation refits the method without some
site clusters, and every seed refits it again; each of those models maps the
whole grid (``results/{dataset}/cv/maps/{method}/seed{s}/fold{k}.tif``). Where
they agree, the map does not hinge on which sites or which seed trained it;
where they disagree, it does. The spread map is the standard deviation of the
probability across those models, cell by cell, with no extra training.

Definition: the population standard deviation (``ddof=0``) over the models
that have a value at the cell, sqrt(mean((p_i - mean p)^2)). The models are
the whole set whose spread is described, not a sample from a larger one, and
``ddof=0`` keeps the value bounded by 0.5 for probabilities (two models at 0
and 1 give 0.5), so one fixed colour range fits every map. Two models at 0.2
and 0.6 give 0.2.

Nodata: a cell where fewer than two models have a value. A per-pixel model
leaves a cell empty where any band its fold selected is nodata, SKT and the
CNNs where every band they read is, a classical window model where no kept
window covers it; the selected bands differ between folds, so band 2 holds how
many models had a value at each cell.
"""

import contextlib
import re
from pathlib import Path

import numpy as np
import rasterio

from ..errors import InputError
from ..grid import GridSpec
from ..rasters import block_windows, open_geotiff_for_writing, to_nodata

#: Band descriptions of the spread map.
BANDS = ("probability std across fold models", "models with a value")
#: Fewest models with a value for a cell to get a spread (one model has no spread to measure).
MIN_MODELS = 2


def fold_map_paths(paths):
    """[(seed, fold, path)] sorted, from paths ending in ``seed{S}/fold{K}.tif``."""
    out = []
    for path in paths:
        m = re.search(r"seed(\d+)[/\\]fold(\d+)\.tif$", str(path))
        if not m:
            raise InputError("a cross-validation fold map must be named .../seed{S}/fold{K}.tif", path=path)
        out.append((int(m.group(1)), int(m.group(2)), Path(path)))
    return sorted(out)


def spread_map(paths, out_path, *, method, block_rows=256):
    """Write the spread map of the fold maps ``paths`` (``.../seed{S}/fold{K}.tif``,
    band 1 = probability) to ``out_path`` on their common grid.

    Band 1: population std (ddof=0) of the probability over the models with a
    value at the cell, nodata where fewer than ``MIN_MODELS`` have one. Band 2:
    that number of models (nodata where none). Returns a summary dict.
    """
    maps = fold_map_paths(paths)
    if len(maps) < MIN_MODELS:
        raise InputError(f"{method}: a spread needs at least {MIN_MODELS} fold models, got {len(maps)}; "
                         "set evaluate.cv.folds or evaluate.seeds so that there are more",
                         path=maps[0][2] if maps else None)
    seeds = sorted({s for s, _, _ in maps})
    folds = sorted({k for _, k, _ in maps})
    with contextlib.ExitStack() as stack:
        sources = [stack.enter_context(rasterio.open(p)) for _, _, p in maps]
        grid = GridSpec.from_dataset(sources[0])
        for (_, _, p), src in zip(maps[1:], sources[1:]):
            if (src.crs, src.transform, src.width, src.height) != (sources[0].crs, sources[0].transform,
                                                                   sources[0].width, sources[0].height):
                raise InputError(f"{method}: fold map is not on the grid of {maps[0][2].name}", path=p)
        largest = 0.0
        cells = 0
        with open_geotiff_for_writing(out_path, grid, list(BANDS)) as dst:
            for window in block_windows(grid.height, grid.width, block_rows):
                spread, count = _block_spread([src.read(1, window=window, masked=True) for src in sources])
                dst.write(to_nodata(np.stack([spread, np.where(count > 0, count, np.nan)])), window=window)
                if np.isfinite(spread).any():
                    largest = max(largest, float(np.nanmax(spread)))
                cells += int(np.isfinite(spread).sum())
            dst.update_tags(method=method, statistic="population standard deviation (ddof=0) of the probability "
                            "across the cross-validation fold models, per cell", ddof="0", n_models=str(len(maps)),
                            seeds=",".join(map(str, seeds)), folds=",".join(map(str, folds)),
                            min_models=str(MIN_MODELS),
                            reading="high = the fold models disagree; not a probability of error")
    return {"method": method, "n_models": len(maps), "seeds": seeds, "folds": folds, "cells": cells,
            "max_spread": largest, "path": str(out_path)}


def _block_spread(blocks):
    """(population std, model count) per cell of masked blocks, by Welford's update:
    models that agree exactly give exactly 0 (no cancellation as in E[x^2] - E[x]^2)."""
    shape = blocks[0].shape
    n = np.zeros(shape, dtype=np.float64)
    mean = np.zeros(shape, dtype=np.float64)
    m2 = np.zeros(shape, dtype=np.float64)
    for block in blocks:
        x = np.ma.getdata(block).astype(np.float64)
        ok = ~np.ma.getmaskarray(block) & np.isfinite(x)
        n[ok] += 1
        delta = np.where(ok, x - mean, 0.0)
        mean += np.divide(delta, n, out=np.zeros(shape), where=ok)
        m2 += np.where(ok, delta * (x - mean), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.where(n >= MIN_MODELS, np.sqrt(m2 / n), np.nan)
    return spread, n
