"""Inverse-distance-weighted interpolation of samples onto the grid (paper eqs 3-4).

    Z(x0, y0) = sum_i Z_i / D_i^p  /  sum_i 1 / D_i^p

over the N nearest samples with a valid value (optionally only those within a
search radius). One neighbour search serves every element that has the same
valid samples, and the grid is processed in blocks of rows and whole-tile
column pieces, so the cost is one k-d tree query per cell plus a cheap weighted
sum per element, and memory does not grow with the grid.
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import rasterio
from scipy import sparse
from scipy.spatial import cKDTree

from .errors import InputError
from .progress import progress
from .rasters import NODATA, block_windows, open_geotiff_for_writing

# GDAL's block cache would otherwise keep up to 5 % of RAM of dirty tiles per
# process; the blocks are written once and never read back before overviews.
_GDAL_CACHE_MB = 128
# Cells per neighbour query: keeps the (cells, n_neighbors) temporaries of each
# thread at a few MB, small enough to stay in cache.
_CHUNK_CELLS = 32768


def interpolate_to_geotiffs(xy, values, names, grid, out_paths, *, power=2.0, n_neighbors=12,
                            search_radius=None, max_distance=None, block_rows=256, workers=1):
    """Write one single-band float32 GeoTIFF per element; return per-element stats.

    xy: (n, 2) sample coordinates in the grid's CRS; values: (n, k) with NaN
    where a sample lacks an element. Each cell takes eq. 4 over its
    ``n_neighbors`` nearest samples with a value, only those within
    ``search_radius`` when given; it is nodata when none qualify or when the
    nearest is farther than ``max_distance``. ``workers`` threads (-1: all cores)
    share the neighbour queries and GDAL's compression.

    Stats are dicts with element, path, n_samples (valid samples used),
    n_valid_cells, min and max (None when no cell has a value).
    """
    names = [str(n) for n in names]
    xy, values = _validate(xy, values, names, power, n_neighbors, search_radius, max_distance,
                           block_rows, workers)
    out_paths = list(out_paths)
    if len(out_paths) != len(names):
        raise InputError(f"{len(out_paths)} output paths for {len(names)} elements")
    k = len(names)
    n_valid = np.zeros(k, dtype=np.int64)
    vmin = np.full(k, np.inf)
    vmax = np.full(k, -np.inf)
    threads = max(1, _n_threads(workers))
    with rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_MB, GDAL_NUM_THREADS=str(threads)), \
            contextlib.ExitStack() as stack:
        outputs = [stack.enter_context(open_geotiff_for_writing(path, grid, [name]))
                   for path, name in zip(out_paths, names)]
        # With more than one worker, GDAL compresses the previous block (it releases
        # the GIL) while the next one is interpolated, so at most two blocks are
        # alive. Exiting the stack waits for that write before closing the files.
        writer = stack.enter_context(ThreadPoolExecutor(1)) if threads > 1 else None
        blocks = stack.enter_context(contextlib.closing(_blocks(
            xy, values, grid, power, n_neighbors, search_radius, max_distance, block_rows,
            workers)))
        pending = None
        n_blocks = -(-grid.height // max(1, int(block_rows)))
        for window, block in progress(blocks, "IDW", total=n_blocks, unit="block"):
            finite = np.isfinite(block)
            n_valid += finite.sum(axis=(1, 2))
            vmin = np.fmin(vmin, np.nanmin(block, axis=(1, 2), initial=np.inf))
            vmax = np.fmax(vmax, np.nanmax(block, axis=(1, 2), initial=-np.inf))
            block[~finite] = NODATA
            if pending is not None:
                pending.result()
            if writer is None:
                _write_block(outputs, block, window)
            else:
                pending = writer.submit(_write_block, outputs, block, window)
        if pending is not None:
            pending.result()
    counts = np.isfinite(values).sum(axis=0)
    return [{"element": name, "path": str(path), "n_samples": int(counts[j]),
             "n_valid_cells": int(n_valid[j]),
             "min": float(vmin[j]) if n_valid[j] else None,
             "max": float(vmax[j]) if n_valid[j] else None}
            for j, (name, path) in enumerate(zip(names, out_paths))]


def _write_block(outputs, block, window):
    for dst, band in zip(outputs, block):
        dst.write(band, 1, window=window)


def idw_array(xy, values, names, grid, *, power=2.0, n_neighbors=12, search_radius=None,
              max_distance=None, block_rows=256, workers=1):
    """Interpolate in memory: (elements, rows, cols) float32 with NaN where empty."""
    names = [str(n) for n in names]
    xy, values = _validate(xy, values, names, power, n_neighbors, search_radius, max_distance,
                           block_rows, workers)
    out = np.empty((len(names), grid.height, grid.width), dtype=np.float32)
    for window, block in _blocks(xy, values, grid, power, n_neighbors, search_radius, max_distance,
                                 block_rows, workers):
        out[(slice(None), *window.toslices())] = block
    return out


def _blocks(xy, values, grid, power, n_neighbors, search_radius, max_distance, block_rows,
            workers):
    """Yield (window, (elements, rows, cols) float32 block with NaN),
    row by row of blocks, left to right."""
    groups = [(cols, _Group(xy[mask], values[mask][:, cols], power, n_neighbors, search_radius,
                            max_distance))
              for mask, cols in _mask_groups(values)]
    threads = max(1, _n_threads(workers))
    # Threads take chunks of the block's cells; the tree query, numpy and the
    # sparse product release the GIL, so the chunks run in parallel.
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        # blocks of about rasters.BLOCK_CELLS cells (16 elements: 64 MB; two are alive
        # while one is written), whole tiles wide
        for window in block_windows(grid.height, grid.width, block_rows):
            rows, cols = window.toslices()
            xs, ys = grid.cell_centres(rows.start, rows.stop)
            xs = xs[cols]
            cells = np.empty((len(ys) * len(xs), 2))
            cells[:, 0] = np.tile(xs, len(ys))
            cells[:, 1] = np.repeat(ys, len(xs))
            block = np.empty((values.shape[1], len(cells)), dtype=np.float32)
            tasks = [(group, cols, slice(a, a + _CHUNK_CELLS)) for cols, group in groups
                     for a in range(0, len(cells), _CHUNK_CELLS)]

            def run(task, cells=cells, block=block):
                group, cols, part = task
                if isinstance(cols, slice):
                    group.estimate(cells[part], block[cols, part])
                else:  # fancy indexing would write into a copy
                    out = np.empty((len(cols), len(cells[part])), dtype=np.float32)
                    group.estimate(cells[part], out)
                    block[cols, part] = out

            if pool is None:
                for task in tasks:
                    run(task)
            else:
                list(pool.map(run, tasks))
            yield window, block.reshape(-1, len(ys), len(xs))
    finally:
        if pool is not None:
            pool.shutdown()


class _Group:
    """Elements sharing one set of valid samples, hence one k-d tree."""

    def __init__(self, xy, values, power, n_neighbors, search_radius, max_distance):
        self.tree = cKDTree(xy)
        # a zero row for the index the tree returns when a neighbour is absent
        self.values = np.zeros((len(xy) + 1, values.shape[1]))
        self.values[:-1] = values
        self.power = float(power)
        self.k = min(int(n_neighbors), len(xy))
        # cKDTree keeps only distances strictly below the bound; make the radius inclusive
        self.bound = np.inf if search_radius is None else np.nextafter(float(search_radius), np.inf)
        self.max_distance = max_distance

    def estimate(self, cells, out):
        """Write (elements, cells) estimates into ``out``, NaN where no sample qualifies."""
        m = len(cells)
        dist, idx = self.tree.query(cells, k=self.k, distance_upper_bound=self.bound)
        dist = dist.reshape(m, self.k)
        idx = idx.reshape(m, self.k)
        if self.max_distance is None:
            empty = np.zeros(m, dtype=bool)
        else:
            empty = dist[:, 0] > self.max_distance
        with np.errstate(divide="ignore"):
            weight = np.multiply(dist, dist, out=dist) if self.power == 2.0 else dist ** self.power
            np.divide(1.0, weight, out=weight)  # inf at exact hits, 0 for absent neighbours
        # A cell on a sample (or on several coincident ones) takes that value: eq. 4
        # has a removable singularity there.
        hit = np.isinf(weight[:, 0])
        if hit.any():
            weight[hit] = np.isinf(weight[hit])
        total = np.einsum("ij->i", weight)
        empty |= total == 0
        total[empty] = 1.0
        weight /= total[:, None]
        rows = np.arange(0, m * self.k + 1, self.k)
        matrix = sparse.csr_array((weight.ravel(), idx.ravel(), rows), shape=(m, len(self.values)))
        estimate = matrix @ self.values
        estimate[empty] = np.nan
        # transpose in cache-sized pieces: a single strided copy is several times slower
        for a in range(0, m, 512):
            out[:, a:a + 512] = estimate[a:a + 512].T


def _mask_groups(values):
    """[(valid-sample mask, element columns)] for elements with identical masks."""
    valid = np.isfinite(values)
    groups = {}
    for j in range(values.shape[1]):
        key = np.packbits(valid[:, j]).tobytes()
        groups.setdefault(key, (valid[:, j], []))[1].append(j)
    # a slice keeps the block assignment a plain strided copy in the common case
    return [(mask, slice(cols[0], cols[-1] + 1) if cols[-1] - cols[0] == len(cols) - 1
             else np.array(cols)) for mask, cols in groups.values()]


def _n_threads(workers):
    return (os.cpu_count() or 1) if workers == -1 else int(workers)


def _validate(xy, values, names, power, n_neighbors, search_radius, max_distance, block_rows,
              workers):
    xy = np.asarray(xy, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise InputError(f"sample coordinates must be an (n, 2) array, got shape {xy.shape}")
    if values.ndim != 2 or values.shape[0] != xy.shape[0]:
        raise InputError(f"values shape {values.shape} does not match {xy.shape[0]} samples")
    if values.shape[1] != len(names):
        raise InputError(f"{values.shape[1]} value columns for {len(names)} element names")
    for axis, column in enumerate(("x", "y")):
        bad = np.flatnonzero(~np.isfinite(xy[:, axis]))
        if bad.size:
            raise InputError("sample coordinate is not a finite number", column=column, rows=bad)
    for j, name in enumerate(names):
        bad = np.flatnonzero(np.isinf(values[:, j]))
        if bad.size:
            raise InputError("value is infinite (use NaN for missing)", column=name, rows=bad)
        if not np.isfinite(values[:, j]).any():
            raise InputError("element has no valid values to interpolate", column=name)
    if not _whole(n_neighbors, 1):
        raise InputError(f"n_neighbors must be a whole number >= 1, got {n_neighbors!r}")
    if not _positive(power):
        raise InputError(f"power must be a positive number, got {power!r}")
    for label, value in (("search_radius", search_radius), ("max_distance", max_distance)):
        if value is not None and not _positive(value):
            raise InputError(f"{label} must be a positive number or null, got {value!r}")
    if not _whole(block_rows, 1):
        raise InputError(f"block_rows must be a whole number >= 1, got {block_rows!r}")
    if not (_whole(workers, 1) or (_whole(workers, -1) and workers == -1)):
        raise InputError(f"workers must be a whole number >= 1 or -1 (all cores), got {workers!r}")
    return xy, values


def _whole(value, minimum):
    return (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            and value >= minimum)


def _positive(value):
    try:
        return bool(np.isfinite(float(value)) and float(value) > 0) and not isinstance(value, bool)
    except (TypeError, ValueError):
        return False
