"""The tiles stage's products as a network reads them: ``load_tiles`` checks
``windows.npy``, ``index.csv`` and ``tiles.json``; a ``TileSet`` gives a split's
windows by element name, in memory or (``WindowReader``) read from disk a batch
at a time, so memory does not grow with the survey.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..errors import InputError
from ..window_inputs import VALIDITY, input_names
from ..records import read_json

REQUIRED_COLUMNS = ("tile_id", "row", "col", "split", "label", "n_sites")
SPLITS = ("train", "test", "skipped", "unlabelled")


@dataclass
class TileSet:
    """The tiles stage's products. ``windows`` is memory-mapped (N, C, S, S)."""

    windows: np.ndarray
    index: pd.DataFrame
    elements: list
    window: int
    meta: dict = field(default_factory=dict)
    path: Path = None
    #: position in ``windows``' channel axis of each of ``elements`` (None: in order)
    channels: list = None

    @property
    def validity_band(self):
        return VALIDITY in self.elements

    def view(self, elements=None, index=None):
        """The same windows seen through other elements (a subset, by name) and
        another index (e.g. one cross-validation fold's splits); nothing is copied.
        The validity band, when the tiles have one, stays in every view."""
        elements = input_names(elements or self.elements, self.validity_band)
        return TileSet(windows=self.windows, index=self.index if index is None else index, elements=elements,
                       window=self.window, meta=self.meta, path=self.path, channels=self._channels_of(elements))

    def _channel(self, position):
        return position if self.channels is None else self.channels[position]

    def _channels_of(self, elements):
        elements = input_names(elements, self.validity_band) if elements else self.elements
        positions = align_elements(elements, self.elements, where=self.path)
        return [self._channel(p) for p in positions]

    def read(self, ids, elements=None):
        """float32 windows (n, C', S, S) of the given tile ids, channels in ``elements``
        order (default this view's elements); reads just these windows from the memmap."""
        x = np.asarray(self.windows[np.asarray(ids, dtype=np.int64)])
        channels = self._channels_of(elements)
        if channels != list(range(self.windows.shape[1])):
            x = x[:, channels]
        return np.ascontiguousarray(x, dtype=np.float32)

    def ids(self, split):
        """tile ids (rows of ``windows``) and labels of one split, in index order."""
        rows = self.index[self.index["split"] == split]
        return rows["tile_id"].to_numpy(np.int64), rows["label"].to_numpy(np.int64)

    def arrays(self, split, elements=None):
        """(x float32 (n, C', S, S), y int64 (n,), tile ids) with channels in ``elements`` order."""
        ids, labels = self.ids(split)
        return self.read(ids, elements), labels, ids

    def split_windows(self, split, elements=None, max_bytes=None):
        """Like ``arrays`` but the windows come as a float32 tensor when they take at
        most ``max_bytes`` (None: no limit), otherwise as a lazy ``WindowReader``."""
        ids, labels = self.ids(split)
        channels = self._channels_of(elements)
        nbytes = len(ids) * len(channels) * self.window * self.window * 4
        if max_bytes is not None and nbytes > max_bytes:
            return WindowReader(self.windows, ids, channels), labels, ids
        x, labels, ids = self.arrays(split, elements)
        return torch.from_numpy(x), labels, ids


class WindowReader:
    """The windows of one split, read on demand from the tile array on disk.

    Indexing with positions (0..n-1 within the split) returns a float32 CPU tensor
    (B, C, S, S) in the order asked, channels in the reader's element order. Rows
    are read with ``os.pread`` in file order, runs of neighbouring rows in one
    read; unlike touching a memory map, this leaves no file pages mapped into the
    process, so resident memory stays one batch however often the split is read.
    """

    device = torch.device("cpu")

    def __init__(self, windows, ids, channels):
        if not isinstance(windows, np.memmap) or windows.filename is None:
            raise TypeError("WindowReader needs the memory-mapped windows.npy (np.load(..., mmap_mode='r'))")
        self.path = windows.filename
        self.offset = int(windows.offset)
        self.row_shape = tuple(windows.shape[1:])
        self.row_bytes = int(np.prod(self.row_shape)) * windows.dtype.itemsize
        self.ids = np.asarray(ids, dtype=np.int64)
        self.channels = list(channels)
        self.shape = (len(self.ids), len(self.channels), *self.row_shape[1:])
        self._all_channels = self.channels == list(range(self.row_shape[0]))

    def __len__(self):
        return len(self.ids)

    def _read_rows(self, rows):
        """rows: sorted file rows -> (len(rows), *row_shape) float32."""
        out = np.empty((len(rows), *self.row_shape), dtype=np.float32)
        flat = out.reshape(len(rows), -1).view(np.uint8)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            start = 0
            # split where rows stop being consecutive (a repeated row breaks the run too)
            breaks = np.flatnonzero(np.diff(rows) != 1) + 1
            for end in [*breaks.tolist(), len(rows)]:
                want = (end - start) * self.row_bytes
                data = os.pread(fd, want, self.offset + int(rows[start]) * self.row_bytes)
                if len(data) != want:
                    raise InputError(f"windows file is shorter than its header says (row {int(rows[start])})",
                                     path=self.path)
                flat[start:end] = np.frombuffer(data, dtype=np.uint8).reshape(end - start, self.row_bytes)
                start = end
        finally:
            os.close(fd)
        return out

    def __getitem__(self, positions):
        positions = torch.as_tensor(positions).cpu().numpy().astype(np.int64, copy=False).reshape(-1)
        rows = self.ids[positions]
        order = np.argsort(rows, kind="stable")
        block = self._read_rows(rows[order])
        if not self._all_channels:
            block = block[:, self.channels]
        out = np.empty_like(block)
        out[order] = block
        return torch.from_numpy(out)


def _line_numbers(mask):
    # line numbers in the CSV file (header is line 1)
    return (np.flatnonzero(np.asarray(mask)) + 2).tolist()


def load_tiles(tiles_dir):
    """Read and check ``windows.npy``, ``index.csv`` and ``tiles.json`` from ``tiles_dir``."""
    tiles_dir = Path(tiles_dir)
    paths = {name: tiles_dir / name for name in ("windows.npy", "index.csv", "tiles.json")}
    for path in paths.values():
        if not path.exists():
            raise InputError("missing tiles product (run the tiles stage first)", path=path)
    meta = read_json(paths["tiles.json"])
    for key in ("elements", "window"):
        if key not in meta:
            raise InputError(f"has no {key!r} entry", path=paths["tiles.json"])
    elements = [str(e) for e in meta["elements"]]
    window = int(meta["window"])
    try:
        windows = np.load(paths["windows.npy"], mmap_mode="r")
    except ValueError as exc:
        raise InputError(f"not a readable .npy array: {exc}", path=paths["windows.npy"]) from None
    expected = (len(elements), window, window)
    if windows.ndim != 4 or tuple(windows.shape[1:]) != expected:
        raise InputError(f"windows have shape {windows.shape}, expected (N, {expected[0]}, {window}, {window}) "
                         f"from tiles.json ({len(elements)} elements, window {window})", path=paths["windows.npy"])
    if windows.dtype != np.float32:
        raise InputError(f"windows are {windows.dtype}, expected float32", path=paths["windows.npy"])
    index = pd.read_csv(paths["index.csv"])
    missing = [c for c in REQUIRED_COLUMNS if c not in index.columns]
    if missing:
        raise InputError(f"missing columns {missing}", path=paths["index.csv"])
    index["split"] = index["split"].astype(str)
    bad = ~index["split"].isin(SPLITS)
    if bad.any():
        raise InputError(f"split must be one of {SPLITS}", path=paths["index.csv"], column="split",
                         rows=_line_numbers(bad))
    used = index["split"].isin(("train", "test"))
    tile_id = pd.to_numeric(index["tile_id"], errors="coerce")
    bad = used & ~(tile_id.between(0, len(windows) - 1) & (tile_id == tile_id.round()))
    if bad.any():
        raise InputError(f"tile_id must index windows.npy (0..{len(windows) - 1}; line numbers)",
                         path=paths["index.csv"], column="tile_id", rows=_line_numbers(bad))
    label = pd.to_numeric(index["label"], errors="coerce")
    bad = used & ~label.isin([0, 1])
    if bad.any():
        raise InputError("label must be 0 or 1 (line numbers)", path=paths["index.csv"], column="label",
                         rows=_line_numbers(bad))
    index = index.copy()
    index.loc[used, "tile_id"] = tile_id[used].astype(np.int64)
    index["label"] = label.fillna(-1).astype(np.int64)
    dup = used & index["tile_id"].duplicated(keep=False)
    if dup.any():
        raise InputError("the same tile_id appears more than once", path=paths["index.csv"],
                         column="tile_id", rows=_line_numbers(dup))
    return TileSet(windows=windows, index=index, elements=elements, window=window, meta=meta, path=tiles_dir)


def align_elements(needed, available, *, where=None):
    """Positions in ``available`` of each name in ``needed``; a clear error if any is absent."""
    available = list(available)
    missing = [e for e in needed if e not in available]
    if missing:
        raise InputError(f"the source network needs element(s) {missing}, which the target data lack "
                         f"(it has {available}); choose a source trained on a subset of these elements",
                         path=where)
    return [available.index(e) for e in needed]


def as_tileset(tiles):
    """``tiles`` itself when it is a TileSet, else the TileSet of that tiles directory."""
    return tiles if isinstance(tiles, TileSet) else load_tiles(tiles)
