"""Dense maps from window scores, in time linear in the grid and memory flat in
its width. One implementation for SKT and every CNN baseline.

Windows of ``window`` cells sit on a regular lattice (origins every ``stride``
cells, plus one flush with each far edge). A cell's value is the mean score of
the windows covering it. Those windows form a contiguous block of the lattice,
so the mean comes from four look-ups in a summed-area table of the lattice's
scores, whatever the stride: no per-window painting of footprints.

The stack is read in pieces (a band of window rows by a column piece of about
``PIECE_CELLS`` cells), windows are cut from a piece with strided views and
scored a batch at a time. What stays in memory besides one piece and one batch
is one score per window and target.
"""

import contextlib

import numpy as np
import rasterio
from rasterio.windows import Window

from .errors import InputError
from .grid import GridSpec
from .rasters import NODATA, block_windows, open_geotiff_for_writing, to_nodata
from .window_inputs import read_inputs
from .window_plan import core_side

#: cells per side a stack piece aims at (times the window's overhang)
PIECE_CELLS = 1024


def covering_starts(size, window, stride):
    """Window origins covering [0, size): regular steps plus one flush with the end."""
    if size <= window:
        return [0]
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def stride_for(window, overlap):
    if not 0 <= float(overlap) < 1:
        raise InputError(f"predict.overlap must be in [0, 1), got {overlap}")
    return max(1, int(round(window * (1 - float(overlap)))))


def _groups(starts, window, span):
    """Consecutive origins whose windows fit together in about ``span`` cells."""
    groups, current = [], []
    for s in starts:
        if current and s + window - current[0] > max(span, window):
            groups.append(current)
            current = []
        current.append(s)
    if current:
        groups.append(current)
    return groups


def _covering_ranges(positions, starts, window):
    """For each cell position, the half-open range [lo, hi) of lattice indices whose
    windows cover it (starts sorted)."""
    starts = np.asarray(starts)
    positions = np.asarray(positions)
    hi = np.searchsorted(starts, positions, side="right")            # start <= p
    lo = np.searchsorted(starts, positions - window, side="right")   # start > p - window
    return lo, hi


def summed_area(scores):
    """Summed-area table of lattice ``scores`` (k, nR, nC), NaN for windows not
    scored: (k + 1, nR + 1, nC + 1), the last layer counting scored windows. Built
    once per map, so each block of cells costs its own size, not the lattice's."""
    k = scores.shape[0]
    have = np.isfinite(scores[0])
    table = np.zeros((k + 1, scores.shape[1] + 1, scores.shape[2] + 1), dtype=np.float64)
    table[:k, 1:, 1:] = np.where(have, scores, 0.0).cumsum(1).cumsum(2)
    table[k, 1:, 1:] = have.cumsum(0).cumsum(1)
    return table


def lattice_mean(table, row_starts, col_starts, window, rows, cols):
    """Per-cell mean of the window scores whose ``summed_area`` is ``table``, over
    the cells ``rows`` x ``cols`` (1-D position arrays): (k, len(rows),
    len(cols)), NaN where no scored window covers a cell."""
    k = table.shape[0] - 1
    r0, r1 = _covering_ranges(rows, row_starts, window)
    c0, c1 = _covering_ranges(cols, col_starts, window)
    # only the block's part of the table is gathered: its cost follows the block, not the grid
    top, left = int(r0.min()), int(c0.min())
    part = table[:, top:int(r1.max()) + 1, left:int(c1.max()) + 1]
    r0, r1, c0, c1 = r0 - top, r1 - top, c0 - left, c1 - left
    sums = (part[:, r1][:, :, c1] - part[:, r0][:, :, c1] - part[:, r1][:, :, c0] + part[:, r0][:, :, c0])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sums[k] > 0, sums[:k] / sums[k], np.nan)


def score_lattice(score, src, names, window, stride, *, batch_size=64, path=None, progress=None):
    """Score every window of the lattice that holds a cell with data.

    ``score``: function (n, C, window, window) float32 -> (k, n) probabilities.
    Returns (scores (k, nR, nC) float64 with NaN for skipped windows, row starts,
    column starts, windows scored).
    """
    H, W = src.height, src.width
    row_starts, col_starts = covering_starts(H, window, stride), covering_starts(W, window, stride)
    scores = None
    n_scored = 0
    row_groups = _groups(row_starts, window, PIECE_CELLS // 4)
    col_groups = _groups(col_starts, window, PIECE_CELLS)
    index_of_row = {s: i for i, s in enumerate(row_starts)}
    index_of_col = {s: i for i, s in enumerate(col_starts)}
    pending, where = [], []

    def flush():
        nonlocal scores, n_scored
        if not pending:
            return
        p = np.asarray(score(np.stack(pending)), dtype=np.float64).reshape(-1, len(pending))
        if scores is None:
            scores = np.full((p.shape[0], len(row_starts), len(col_starts)), np.nan)
        ii, jj = zip(*where)
        scores[:, list(ii), list(jj)] = p
        n_scored += len(pending)
        pending.clear()
        where.clear()

    # column pieces outside, bands of rows inside: consecutive pieces share the
    # window overlap's blocks, which GDAL's cache then holds for one piece's width
    # only, so memory does not grow with the grid's width
    for cols in (progress(col_groups) if progress else col_groups):
        left = cols[0]
        width = cols[-1] + window - left
        for rows in row_groups:
            top = rows[0]
            height = rows[-1] + window - top
            piece, empty = read_inputs(src, names, Window(left, top, width, height), path)
            # windows holding no cell with data are not scored (their cells are nodata anyway)
            filled = np.zeros((height + 1, width + 1), dtype=np.int64)
            filled[1:, 1:] = (~empty).cumsum(0).cumsum(1)
            for r in rows:
                for c in cols:
                    a, b = r - top, c - left
                    n = filled[a + window, b + window] - filled[a, b + window] - filled[a + window, b] + filled[a, b]
                    if n == 0:
                        continue
                    pending.append(piece[:, a:a + window, b:b + window])
                    where.append((index_of_row[r], index_of_col[c]))
                    if len(pending) >= batch_size:
                        flush()
            flush()  # the pending windows are views of this piece: score them before it goes
    if scores is None:
        scores = np.full((1, len(row_starts), len(col_starts)), np.nan)
    return scores, row_starts, col_starts, n_scored


def painted_core(window, label_core=None, share=None):
    """Cells of the centred square of a window its score is painted on:
    ``share`` of the window's side (``predict.core``) when given, else the
    labelled core the model was trained on (``label_core`` cells; None: the whole
    window). A score painted over the whole window is blurred twice at the
    window's scale (once by the label, once by the painting); painting it nearer
    the centre blurs it once."""
    if share is None:
        return label_core
    share = float(share)
    if not 0 < share <= 1:
        raise InputError(f"predict.core must lie in (0, 1] (a share of the window's side), got {share:g}")
    return core_side(window, share)


def footprint_mean(table, row_starts, col_starts, window, rows, cols, core=None):
    """Per-cell mean of window scores (their ``summed_area`` ``table``) over each
    window's centred ``core`` (cells; None: the whole window): a model trained on
    core labels says whether a site lies in the core, so that is where its score
    belongs. Cells no core covers (within half the margin of the grid's edge) take
    the whole windows' mean."""
    whole = lattice_mean(table, row_starts, col_starts, window, rows, cols)
    if core is None or int(core) >= window:
        return whole
    off = (window - int(core)) // 2
    centred = lattice_mean(table, np.asarray(row_starts) + off, np.asarray(col_starts) + off, int(core), rows, cols)
    return np.where(np.isnan(centred), whole, centred)


def _cache_bytes(src, window):
    """GDAL's block cache for one column piece's blocks over two bands of rows of
    every band: enough that overlapping pieces are decompressed once, and bounded
    whatever the grid's width (GDAL's default, 5 % of RAM, fills with the stack
    on a large grid). rasterio takes bytes."""
    block_h, block_w = src.block_shapes[0]
    piece = PIECE_CELLS + window + 2 * block_w
    rows = PIECE_CELLS // 4 + window + 2 * block_h
    return max(32 * 2**20, int(1.5 * src.count * piece * rows * 4))


def dense_map(score, stack_path, names, outputs, *, window, stride, batch_size=64, tags=None, progress=None,
              core=None):
    """Write dense maps of window scores on the stack's grid.

    ``score``: function (n, len(names), window, window) float32 -> (k, n); ``names``:
    the model's inputs (stack bands by name, optionally the validity band);
    ``outputs``: list of (path, band descriptions, function (k, rows, cols) ->
    (bands, rows, cols)); ``core``: the labelled centre of a window (see
    ``footprint_mean``). A cell is nodata where every stack band is nodata or no
    scored window covers it. Returns a summary dict.
    """
    with rasterio.open(stack_path) as src, rasterio.Env(GDAL_CACHEMAX=_cache_bytes(src, window)):
        grid = GridSpec.from_dataset(src)
        if grid.crs is None:
            raise InputError("the stack has no CRS", path=stack_path)
        scores, row_starts, col_starts, n_scored = score_lattice(score, src, names, window, stride,
                                                                 batch_size=batch_size, path=stack_path,
                                                                 progress=progress)
        with contextlib.ExitStack() as stack:
            dsts = [(stack.enter_context(open_geotiff_for_writing(path, grid, descriptions)), combine)
                    for path, descriptions, combine in outputs]
            table = summed_area(scores)
            for block in block_windows(grid.height, grid.width, 256):
                rows = np.arange(block.row_off, block.row_off + block.height)
                cols = np.arange(block.col_off, block.col_off + block.width)
                values = footprint_mean(table, row_starts, col_starts, window, rows, cols, core)
                nodata = (src.read_masks(window=block) == 0).all(axis=0)
                values[:, nodata] = np.nan
                for dst, combine in dsts:
                    dst.write(to_nodata(combine(values), NODATA), window=block)
            for dst, _ in dsts:
                dst.update_tags(window=window, stride=stride, windows=n_scored, inputs=",".join(names),
                                footprint=window if core is None else int(core),
                                **{k: str(v) for k, v in (tags or {}).items()})
    return {"window": window, "stride": stride, "windows": n_scored, "width": grid.width, "height": grid.height}
