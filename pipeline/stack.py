"""z-scored multi-band stack of the selected element rasters (paper eq. 5).

Statistics come from a first pass over blocks and the scaled bands are written
in a second pass, so memory stays bounded by one block (rows x a column piece)
of one band at a time.
"""

import contextlib

import numpy as np
import rasterio

from .errors import InputError
from .grid import GridSpec
from .rasters import NODATA, block_windows, open_geotiff_for_writing

# GDAL's block cache defaults to 5 % of RAM and fills with the stack's dirty tiles
# on large grids; every tile is written once, so a small cache costs nothing.
# (rasterio takes GDAL_CACHEMAX in bytes.)
_GDAL_CACHE_BYTES = 128 * 2**20


def _common_grid(paths):
    grids = []
    for path in paths:
        with rasterio.open(path) as src:
            grids.append(GridSpec(src.crs.to_string(), src.transform, src.width, src.height))
    for path, grid in zip(paths[1:], grids[1:]):
        if grid != grids[0]:
            raise InputError(f"{path} is not on the grid of {paths[0]}: {grid} vs {grids[0]}")
    return grids[0]


def band_statistics(path, block_rows=512):
    """Mean, standard deviation (population, as eq. 5 uses), min, max and count over valid cells."""
    total = total_sq = 0.0
    count = 0
    lo, hi = np.inf, -np.inf
    with rasterio.open(path) as src:
        # shift by a first guess of the mean to keep the sum of squares well conditioned
        shift = None
        for window in block_windows(src.height, src.width, block_rows):
            block = src.read(1, window=window, masked=True)
            values = block.compressed().astype(np.float64)
            if values.size == 0:
                continue
            if shift is None:
                shift = float(values.mean())
            d = values - shift
            total += d.sum()
            total_sq += (d * d).sum()
            count += values.size
            lo, hi = min(lo, values.min()), max(hi, values.max())
    if count == 0:
        raise InputError(f"{path}: the raster has no valid cells")
    mean_d = total / count
    var = max(total_sq / count - mean_d ** 2, 0.0)
    return {"mean": shift + mean_d, "std": float(np.sqrt(var)), "min": float(lo), "max": float(hi),
            "n_valid": int(count)}


def zscore_stack(raster_paths, names, out_path, block_rows=512):
    """Write the z-scored stack; returns per-element statistics used for scaling.

    A band with zero spread cannot be z-scored and is refused with its name.
    """
    raster_paths = [str(p) for p in raster_paths]
    grid = _common_grid(raster_paths)
    stats = {}
    for name, path in zip(names, raster_paths):
        s = band_statistics(path, block_rows)
        if s["std"] == 0:
            raise InputError(f"{path}: element {name} is constant over the grid ({s['mean']}); "
                             "it cannot be z-scored: leave it out of the selection")
        stats[name] = s
    with rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_BYTES), contextlib.ExitStack() as opened:
        sources = [opened.enter_context(rasterio.open(p)) for p in raster_paths]
        dst = opened.enter_context(open_geotiff_for_writing(out_path, grid, names))
        for window in block_windows(grid.height, grid.width, block_rows):
            for band, (name, src) in enumerate(zip(names, sources), start=1):
                block = src.read(1, window=window, masked=True).astype(np.float32)
                z = (block - np.float32(stats[name]["mean"])) / np.float32(stats[name]["std"])
                dst.write(z.filled(NODATA).astype(np.float32), band, window=window)
        dst.update_tags(method="z-score per band over valid cells (Huang et al. 2022, eq. 5)")
        for band, name in enumerate(names, start=1):
            dst.update_tags(band, element=name, mean=repr(stats[name]["mean"]), std=repr(stats[name]["std"]))
    return stats
