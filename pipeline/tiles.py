"""Sliding windows over the stack, their labels and the spatial train/test split
(paper section 2.2).

The grid is cut at ``split_row``: windows slide over the upper part for training
and over the lower part for testing, never straddling the boundary, so that no
test pixel is seen in training. A window is "with mines" when a known site falls
inside its footprint.
"""

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.windows import Window
from shapely.geometry import box

from .atomic import atomic_path, write_json
from .errors import InputError
from .progress import progress
from .grid import GridSpec
from .pu import UNLABELLED, apply_pu
from .vectors import write_gpkg
from .window_inputs import VALIDITY, band_indexes, band_names, block_inputs, element_names, fill_values, input_names

# GDAL's block cache defaults to 5 % of RAM and would fill with the stack's blocks
# on a large grid. It needs to hold one row of blocks of every band: the windows'
# strips are thinner than a block, and each block is then decompressed once per pass.
_MIN_CACHE_BYTES = 64 * 2**20

INDEX_COLUMNS = ["tile_id", "row", "col", "split", "label", "n_sites", "valid_fraction"]


@dataclass(frozen=True)
class TileLayout:
    window: int
    stride: int
    split_row: int
    #: side of the centred part of a window whose sites label it (None: the whole window, the paper's rule)
    core: int = None

    @property
    def core_side(self):
        return self.window if self.core is None else int(self.core)

    @property
    def core_offset(self):
        return (self.window - self.core_side) // 2


#: tiles.split_row: auto, a boundary placed by the sites' rows (see sites_split_row)
SPLIT_AUTO = "auto"


def sites_split_row(height, window, site_rows, test_fraction=0.25):
    """The row that leaves ``test_fraction`` of the on-grid sites (at least one) below it for testing, halfway
    between the last training site and the first test site, and a window from either edge.

    The paper cuts its grid at a fixed row; a survey whose sites cluster in one part of the grid would then have
    none on one side. This places the cut by the sites' positions only, never by any score, and falls back to
    the fixed fraction when fewer than two sites lie on the grid."""
    rows = np.sort(np.asarray([r for r in site_rows if 0 <= r < height], dtype=int))
    if len(rows) < 2:
        return int(round(height * (1.0 - test_fraction)))
    k = min(len(rows) - 1, max(1, int(round(test_fraction * len(rows)))))
    row = int((rows[len(rows) - k - 1] + rows[len(rows) - k] + 1) // 2)
    return int(min(max(row, window), height - window))


def resolve_split_row(height, window, test_fraction=0.25, split_row=None, site_rows=None):
    """The pixel row where the test part starts; checks both parts hold a window. ``split_row``: a row, None
    (the ``test_fraction``) or 'auto' (sites_split_row, from ``site_rows``)."""
    if split_row == SPLIT_AUTO:
        row = sites_split_row(height, window, site_rows if site_rows is not None else [], test_fraction)
    else:
        row = int(split_row) if split_row is not None else int(round(height * (1.0 - test_fraction)))
    if row < window or height - row < window:
        raise InputError(f"the train/test boundary at row {row} leaves a part shorter than one "
                         f"{window}-pixel window in a grid of {height} rows: change tiles.test_fraction, "
                         "tiles.split_row or tiles.window")
    return row


def _starts(begin, end, window, stride):
    return list(range(begin, end - window + 1, stride))


def window_origins(height, width, layout):
    """(row, col, split) of every window, train part first, in row-major order."""
    cols = _starts(0, width, layout.window, layout.stride)
    out = []
    for split, (begin, end) in (("train", (0, layout.split_row)), ("test", (layout.split_row, height))):
        for row in _starts(begin, end, layout.window, layout.stride):
            out.extend((row, col, split) for col in cols)
    return out


def count_sites(origins, site_rows, site_cols, window):
    """Number of sites inside each window, from the sites' pixel positions."""
    counts = np.zeros(len(origins), dtype=np.int64)
    if len(site_rows) == 0:
        return counts
    site_rows = np.asarray(site_rows)
    site_cols = np.asarray(site_cols)
    for i, (row, col, _) in enumerate(origins):
        inside = (site_rows >= row) & (site_rows < row + window) & (site_cols >= col) & (site_cols < col + window)
        counts[i] = int(inside.sum())
    return counts


def build_tile_index(grid, site_xy, layout):
    """DataFrame of every window (before the valid-area filter) with label and site
    count. ``n_sites`` counts the sites in the whole window; the label is 1 when one
    lies in its centred core (the whole window unless ``layout.core`` is set)."""
    origins = window_origins(grid.height, grid.width, layout)
    site_xy = np.asarray(site_xy, dtype=float).reshape(-1, 2)
    rows, cols = grid.rowcol(site_xy[:, 0], site_xy[:, 1])
    n_sites = count_sites(origins, rows, cols, layout.window)
    frame = pd.DataFrame(origins, columns=["row", "col", "split"])
    frame["n_sites"] = n_sites
    if layout.core_side == layout.window:
        frame["label"] = (n_sites > 0).astype(np.int64)
    else:
        off = layout.core_offset
        cores = [(r + off, c + off, s) for r, c, s in origins]
        frame["label"] = (count_sites(cores, rows, cols, layout.core_side) > 0).astype(np.int64)
    return frame


def _cache_bytes(src):
    """One row of blocks of every band, with room to spare (rasterio takes bytes)."""
    block_rows = src.block_shapes[0][0]
    return max(_MIN_CACHE_BYTES, int(1.25 * src.count * block_rows * src.width * 4))


def _write_npy_header(f, shape):
    """Write the .npy (format 1.0) header of a float32 C-order array of ``shape`` at ``f``'s position."""
    np.lib.format.write_array_header_1_0(
        f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
            "shape": tuple(int(n) for n in shape)})


def _write_windows(path, src, index, size, names, min_valid_fraction):
    """Each window's valid fraction, and the windows at or above ``min_valid_fraction`` written to an .npy
    file in index order, in one pass over the stack: each strip of window rows is read (and decompressed)
    once, for both. Returns the valid fraction of every window of ``index`` (row-major, as window_origins).

    Plain sequential writes, not a memory map: the pages of a written map count as resident memory until
    the kernel writes them back (the whole file, for a large stack), and a full disk kills a process writing
    through a map with SIGBUS instead of raising. The header is written for every window and rewritten for
    the kept ones: numpy pads it so that the first axis can shrink or grow without changing its length.
    """
    bands = band_indexes(src, element_names(names))
    fills = fill_values(src, bands)
    rows = index["row"].to_numpy()
    cols = index["col"].to_numpy()
    # the kept windows are written in the order they are met, which is the index order only when it is row-major
    if np.any(np.diff(rows) < 0):
        raise ValueError("the window index is not in row-major order")
    fraction = np.zeros(len(index))
    channels = len(names)
    kept = 0
    with open(path, "wb") as f:
        _write_npy_header(f, (len(index), channels, size, size))
        start = f.tell()
        for row in progress(np.unique(rows), "tiles", unit="row"):
            stack = src.read(window=Window(0, int(row), src.width, size), masked=True)
            block, valid, _ = block_inputs(stack, names, bands, fills)
            for i in np.flatnonzero(rows == row):
                col = int(cols[i])
                fraction[i] = float(valid[:, col:col + size].mean())
                if fraction[i] >= min_valid_fraction:
                    f.write(np.ascontiguousarray(block[:, :, col:col + size]).tobytes())
                    kept += 1
        f.seek(0)
        _write_npy_header(f, (kept, channels, size, size))
        if f.tell() != start:
            raise ValueError(f"the .npy header for {kept} windows is not the length of the one for {len(index)}")
    return fraction


def write_tiles(stack_path, site_xy, layout, out_dir, *, min_valid_fraction=0.5, sites_outside_ok=False,
                validity_band=False, pu=None, extra=None):
    """Cut the stack into windows and write the tile products to ``out_dir``.

    Writes ``windows.npy`` (N, channels, window, window) float32: the stack's bands
    with nodata filled by each band's recorded fill (``pipeline.window_inputs``),
    then, with ``validity_band``, a channel that is 1 where every band holds data;
    ``index.csv`` and ``index.gpkg`` (footprints), ``tiles.json``. ``pu``: the
    tiles section's settings for keeping doubtful negatives out of training
    (``pipeline.pu``; their windows get the split "unlabelled"). ``extra``: more
    entries for tiles.json (e.g. the survey's median sample spacing).
    Windows whose valid area is below ``min_valid_fraction`` are left out of the
    arrays; they stay in the index with split "skipped" so that nothing vanishes.
    Returns the summary written to tiles.json.
    """
    out_dir = Path(out_dir)
    with rasterio.open(stack_path) as src, rasterio.Env(GDAL_CACHEMAX=_cache_bytes(src)):
        grid = GridSpec.from_dataset(src)
        elements = band_names(src)
        names = input_names(elements, validity_band)
        fills = dict(zip(elements, fill_values(src, range(1, src.count + 1)).tolist()))
        nodata = src.nodata
        index = build_tile_index(grid, site_xy, layout)
        site_xy = np.asarray(site_xy, dtype=float).reshape(-1, 2)
        rows, cols = grid.rowcol(site_xy[:, 0], site_xy[:, 1])
        inside = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
        if not inside.any() and not sites_outside_ok:
            xmin, ymin, xmax, ymax = grid.bounds
            raise InputError(f"none of the {len(site_xy)} sites lies inside the grid "
                             f"({xmin:.0f}, {ymin:.0f}, {xmax:.0f}, {ymax:.0f}) in {grid.crs}: "
                             "check the sites' CRS and the grid extent")
        # valid fraction per window and the kept windows, one strip of window rows at a time (bounded memory)
        with atomic_path(out_dir / "windows.npy") as tmp:
            index["valid_fraction"] = _write_windows(tmp, src, index, layout.window, names, min_valid_fraction)
        keep = index["valid_fraction"] >= min_valid_fraction
        index.loc[~keep, "split"] = "skipped"
        index = pd.concat([index[keep], index[~keep]], ignore_index=True)
        index.insert(0, "tile_id", np.arange(len(index)))
    if pu:
        index = apply_pu(index, np.load(out_dir / "windows.npy", mmap_mode="r"), grid, layout.window, site_xy, pu)
    index = index[INDEX_COLUMNS]
    with atomic_path(out_dir / "index.csv") as tmp:
        index.to_csv(tmp, index=False)
    footprints = [box(*grid.window_bounds(r, c, layout.window, layout.window))
                  for r, c in zip(index["row"], index["col"])]
    gdf = gpd.GeoDataFrame(index, geometry=footprints, crs=grid.crs)
    with atomic_path(out_dir / "index.gpkg") as tmp:
        write_gpkg(gdf, tmp, layer="tiles")
    counts = {split: {"windows": int((index["split"] == split).sum()),
                      "with_mines": int(((index["split"] == split) & (index["label"] == 1)).sum())}
              for split in ("train", "test", "skipped", UNLABELLED)}
    summary = {"elements": names, "window": layout.window, "stride": layout.stride, "label_core": layout.core_side,
               "split_row": layout.split_row, "min_valid_fraction": min_valid_fraction,
               "nodata_in_stack": nodata, "nodata_filled_with": fills, "validity_band": VALIDITY in names,
               "grid": grid.to_dict(),
               "sites_inside_grid": int(inside.sum()), "sites_total": int(len(site_xy)),
               "counts": counts, **(extra or {})}
    write_json(out_dir / "tiles.json", summary)
    return summary


def check_split_has_sites(summary):
    """Stop when a part of the train/test split holds no window with a site: test
    metrics there would be meaningless (a constant "no mines" scores 100 %), and a
    model cannot learn without positives."""
    counts = summary["counts"]
    for split, what in (("train", "learn from"), ("test", "be tested on")):
        c = counts[split]
        if c["windows"] and not c["with_mines"]:
            raise InputError(
                f"the {split} part of the grid (split at row {summary['split_row']}) holds {c['windows']} windows "
                f"but none with a site ({summary['sites_inside_grid']} of {summary['sites_total']} sites lie inside "
                f"the grid), so there is nothing to {what}: move tiles.split_row or tiles.test_fraction so that "
                "sites fall on both sides, or judge the methods by the cross-validation (evaluate.cv)")
