"""The models' input stack: each element raster transformed (log10 or centred
log-ratio), then scaled per band (z-score, paper eq. 5, or median/MAD), in one
multi-band GeoTIFF.

Concentrations are strongly right-skewed: without a log, z-scores reach 20 and
more, and the few enriched cells dominate every distance and every convolution.
Statistics come from passes over blocks and the scaled bands are written in a
last pass, so memory stays bounded by one block (rows x a column piece) of the
bands. Each band records its transform, scaling and ``fill`` (the band's median
in the written units), which every model's windows use for nodata (see
``pipeline.window_inputs``).
"""

import contextlib
import math

import numpy as np
import rasterio

from .errors import InputError
from .grid import GridSpec
from .rasters import NODATA, block_windows, open_geotiff_for_writing

TRANSFORMS = ("log10", "clr", "none")
SCALINGS = ("zscore", "robust")
#: the median and MAD come from at most about this many cells per band (an evenly
#: strided subsample of each block: exact on grids of up to this many cells)
MEDIAN_SAMPLE = 2_000_000
#: scales the MAD to the standard deviation of a normal distribution
MAD_TO_STD = 1.4826

# GDAL's block cache defaults to 5 % of RAM and fills with the stack's dirty tiles
# on large grids; every tile is written once, so a small cache costs nothing.
# (rasterio takes GDAL_CACHEMAX in bytes.)
_GDAL_CACHE_BYTES = 128 * 2**20


def _common_grid(paths):
    grids = []
    for path in paths:
        with rasterio.open(path) as src:
            grids.append(GridSpec.from_dataset(src))
    for path, grid in zip(paths[1:], grids[1:]):
        if grid != grids[0]:
            raise InputError(f"{path} is not on the grid of {paths[0]}: {grid} vs {grids[0]}")
    return grids[0]


class _Moments:
    """Running mean and population standard deviation, shifted by a first guess of
    the mean so the sum of squares stays well conditioned."""

    def __init__(self):
        self.shift = None
        self.total = self.total_sq = 0.0
        self.count = 0
        self.lo, self.hi = np.inf, -np.inf

    def add(self, values):
        if values.size == 0:
            return
        if self.shift is None:
            self.shift = float(values.mean())
        d = values - self.shift
        self.total += float(d.sum())
        self.total_sq += float((d * d).sum())
        self.count += values.size
        self.lo, self.hi = min(self.lo, float(values.min())), max(self.hi, float(values.max()))

    def result(self):
        mean_d = self.total / self.count
        var = max(self.total_sq / self.count - mean_d ** 2, 0.0)
        return {"mean": self.shift + mean_d, "std": float(np.sqrt(var)), "min": self.lo, "max": self.hi,
                "n_valid": int(self.count)}


def band_statistics(path, block_rows=512):
    """Mean, standard deviation (population, as eq. 5 uses), min, max and count over valid cells."""
    moments = _Moments()
    with rasterio.open(path) as src:
        for window in block_windows(src.height, src.width, block_rows):
            moments.add(src.read(1, window=window, masked=True).compressed().astype(np.float64))
    if moments.count == 0:
        raise InputError(f"{path}: the raster has no valid cells")
    return moments.result()


def _positive_floors(sources, names, paths, block_rows, grid):
    """Per band: the smallest positive value (the log's floor) and how many valid
    cells lie at or below zero (they are raised to the floor and counted)."""
    floors, non_positive = {}, {}
    for name, src, path in zip(names, sources, paths):
        lo, n_low = np.inf, 0
        for window in block_windows(grid.height, grid.width, block_rows):
            values = src.read(1, window=window, masked=True).compressed()
            positive = values[values > 0]
            n_low += int(values.size - positive.size)
            if positive.size:
                lo = min(lo, float(positive.min()))
        if not np.isfinite(lo):
            raise InputError(f"{path}: element {name} has no positive value, so it cannot be log-transformed: "
                             "set stack.transform to none or leave the element out")
        floors[name], non_positive[name] = lo, n_low
    return floors, non_positive


def transform_block(block, transform, floors):
    """(bands, rows, cols) masked float64 concentrations -> masked transformed values.

    log10: log10 of each band (values below the band's floor raised to it); clr: the
    centred log-ratio over the stack's bands (natural log of each part over the
    cell's geometric mean), defined only where every band has a value.
    """
    if transform == "none":
        return block
    data = np.ma.getdata(block)
    mask = np.ma.getmaskarray(block)
    raised = np.maximum(data, np.asarray(floors, dtype=np.float64)[:, None, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        if transform == "log10":
            return np.ma.masked_array(np.log10(np.where(mask, 1.0, raised)), mask=mask)
        if transform == "clr":
            any_missing = mask.any(axis=0)
            logs = np.log(np.where(mask, 1.0, raised))
            clr = logs - logs.mean(axis=0, keepdims=True)
            return np.ma.masked_array(clr, mask=np.broadcast_to(any_missing, mask.shape).copy())
    raise InputError(f"stack.transform must be one of {TRANSFORMS}, got {transform!r}")


def _read_block(sources, window):
    return np.ma.stack([src.read(1, window=window, masked=True).astype(np.float64) for src in sources])


def _sample_step(count):
    return max(1, math.ceil(count / MEDIAN_SAMPLE))


FILLS = ("median", "mean")


def zscore_stack(raster_paths, names, out_path, block_rows=512, *, transform="none", scaling="zscore",
                 fill="median"):
    """Write the scaled stack; returns per-element statistics used for scaling.

    ``transform``: log10 | clr | none, applied first; ``scaling``: zscore (mean and
    population std, eq. 5) | robust (median and 1.4826 MAD). Each band's ``fill``
    (the value models see on its nodata) is its median after scaling (0 with
    robust scaling), or with ``fill="mean"`` its mean (0 after a z-score). A band
    with zero spread cannot be scaled and is refused with its name.
    """
    if transform not in TRANSFORMS:
        raise InputError(f"stack.transform must be one of {TRANSFORMS}, got {transform!r}")
    if scaling not in SCALINGS:
        raise InputError(f"stack.scaling must be one of {SCALINGS}, got {scaling!r}")
    if fill not in FILLS:
        raise InputError(f"stack.fill must be one of {FILLS}, got {fill!r}")
    if transform == "clr" and len(names) < 2:
        raise InputError("stack.transform clr needs at least two elements (a log-ratio of one part is 0)")
    raster_paths = [str(p) for p in raster_paths]
    grid = _common_grid(raster_paths)
    with rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_BYTES), contextlib.ExitStack() as opened:
        sources = [opened.enter_context(rasterio.open(p)) for p in raster_paths]
        if transform == "none":
            floors, non_positive = {n: -np.inf for n in names}, {n: 0 for n in names}
        else:
            floors, non_positive = _positive_floors(sources, names, raster_paths, block_rows, grid)
        floor_list = [floors[n] for n in names]
        blocks = list(block_windows(grid.height, grid.width, block_rows))

        # one pass for the moments and an evenly strided sample for the median
        step = _sample_step(grid.height * grid.width)
        moments = {n: _Moments() for n in names}
        samples = {n: [] for n in names}
        for window in blocks:
            values = transform_block(_read_block(sources, window), transform, floor_list)
            for name, band in zip(names, values):
                kept = band.compressed()
                moments[name].add(kept)
                samples[name].append(kept[::step].copy())   # a view would keep the whole band alive
        stats = {}
        for name, path in zip(names, raster_paths):
            if moments[name].count == 0:
                raise InputError(f"{path}: element {name} has no valid cells")
            stats[name] = moments[name].result()
        for name, path in zip(names, raster_paths):
            s = stats[name]
            sample = np.concatenate(samples.pop(name))
            median = float(np.median(sample))
            mad = float(np.median(np.abs(sample - median)))
            centre, spread = (s["mean"], s["std"]) if scaling == "zscore" else (median, MAD_TO_STD * mad)
            if spread == 0:
                what = "constant over the grid" if s["std"] == 0 else "constant over more than half the grid (MAD 0)"
                raise InputError(f"{path}: element {name} is {what} ({median}); it cannot be scaled: "
                                 "leave it out of the selection" + ("" if s["std"] == 0 else
                                                                   " or use stack.scaling: zscore"))
            s.update(transform=transform, scaling=scaling, centre=centre, scale=spread, median=median, mad=mad,
                     fill=((median if fill == "median" else s["mean"]) - centre) / spread, log_floor=None if transform == "none" else floors[name],
                     n_raised_to_floor=non_positive[name])

        dst = opened.enter_context(open_geotiff_for_writing(out_path, grid, names))
        for window in blocks:
            values = transform_block(_read_block(sources, window), transform, floor_list)
            for band, (name, v) in enumerate(zip(names, values), start=1):
                z = (v - stats[name]["centre"]) / stats[name]["scale"]
                dst.write(z.astype(np.float32).filled(NODATA), band, window=window)
        method = {"zscore": "z-score per band over valid cells (Huang et al. 2022, eq. 5)",
                  "robust": "(value - median) / (1.4826 MAD) per band over valid cells"}[scaling]
        dst.update_tags(method=method, transform=transform, scaling=scaling)
        for band, name in enumerate(names, start=1):
            s = stats[name]
            dst.update_tags(band, element=name, mean=repr(s["mean"]), std=repr(s["std"]), centre=repr(s["centre"]),
                            scale=repr(s["scale"]), fill=repr(s["fill"]), transform=transform)
    return stats
