"""Tiles in, batches out: loading the tiles stage's products, element alignment,
class balancing by Gaussian-noise copies (paper section 2.2), crops.

Everything a batch needs is gathered with a few tensor operations (no Python per
sample): a split that fits ``train.max_in_memory_mb`` is held as one tensor (on the
GPU when it fits there too); a larger one stays in the memory-mapped ``windows.npy``
and each batch reads just its windows (``WindowReader``), so memory does not grow
with the survey. Crops are taken with one ``gather`` and noise is drawn for the
whole batch at once.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..errors import InputError
from ..evaluation.metrics import noise_copy_counts
from ..window_inputs import VALIDITY, input_names

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
    try:
        meta = json.loads(paths["tiles.json"].read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", path=paths["tiles.json"]) from None
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


def sample_plan(labels, balance="noise", majority_copies=0):
    """(window position, copy number) of every sample; copy 0 is the window itself."""
    labels = np.asarray(labels, dtype=np.int64)
    if balance == "none":
        return np.arange(len(labels)), np.zeros(len(labels), dtype=np.int64)
    if balance != "noise":
        raise InputError(f"train.balance must be 'noise' or 'none', got {balance!r}")
    counts = noise_copy_counts((labels == 1).sum(), (labels == 0).sum(), majority_copies)
    reps = np.array([counts[int(v)] + 1 for v in labels], dtype=np.int64)
    position = np.repeat(np.arange(len(labels)), reps)
    copy = np.concatenate([np.arange(r) for r in reps]) if len(reps) else np.zeros(0, np.int64)
    return position, copy.astype(np.int64)


def place(x, device, fraction=0.3):
    """Move a float tensor to ``device`` when it fits in ``fraction`` of free memory;
    otherwise keep it in (pinned) host memory and move batches. A ``WindowReader``
    stays on disk: its batches move."""
    if isinstance(x, WindowReader):
        return x
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if x.numel() * x.element_size() < fraction * free:
            return x.to(device)
        return x.pin_memory()
    return x.to(device)


def crop_batch(x, positions, crop, offsets=None):
    """Windows ``x[positions]`` cropped to ``crop`` x ``crop`` at per-sample (row, col)
    ``offsets`` (B, 2); centre crops when ``offsets`` is None."""
    batch = x[positions]
    size = x.shape[-1]
    if crop >= size:
        return batch
    if offsets is None:
        start = (size - crop) // 2
        return batch[..., start:start + crop, start:start + crop]
    b, c = batch.shape[:2]
    steps = torch.arange(crop, device=batch.device)
    rows = offsets[:, 0:1].to(batch.device) + steps          # (B, crop)
    cols = offsets[:, 1:2].to(batch.device) + steps
    flat = (rows[:, :, None] * size + cols[:, None, :]).reshape(b, 1, crop * crop)
    out = torch.gather(batch.reshape(b, c, size * size), 2, flat.expand(b, c, crop * crop))
    return out.reshape(b, c, crop, crop)


AUGMENT = ("none", "flips")


def dihedral(x, transforms):
    """Apply one of the 8 flips / 90-degree rotations to each sample: ``transforms``
    (B,) in 0..7 (bit 0: flip rows, bit 1: flip columns, bit 2: transpose)."""
    t = transforms.to(x.device).view(-1, 1, 1, 1)
    x = torch.where((t & 1).bool(), x.flip(-2), x)
    x = torch.where((t & 2).bool(), x.flip(-1), x)
    return torch.where((t & 4).bool(), x.transpose(-1, -2), x)


class Batches:
    """Batches of (x, y) from one split with noise copies.

    ``x``: (n, C, S, S) tensor (on the training device when it fits) or a
    ``WindowReader`` over the memory-mapped tiles, ``labels``:
    (n,), ``plan``: (positions, copies) from ``sample_plan``. Training batches are
    shuffled random crops (with ``views`` > 1, that many independent crops of each
    window, for networks that each see their own); evaluation batches are centre
    crops in plan order. Copies > 0 get N(0, noise_std^2) noise, drawn afresh for
    each batch.
    """

    def __init__(self, x, labels, plan, *, crop, noise_std, device, augment="none", views=1):
        if augment not in AUGMENT:
            raise InputError(f"train.augment must be one of {AUGMENT}, got {augment!r}")
        self.augment = augment
        self.views = int(views)
        self.device = device
        self.x = x
        self.y = torch.tensor(np.asarray(labels), dtype=torch.long).to(device)
        self.positions = torch.as_tensor(plan[0], dtype=torch.long)
        self.copies = torch.as_tensor(plan[1], dtype=torch.long)
        self.crop = int(crop)
        self.noise_std = float(noise_std)

    def __len__(self):
        return len(self.positions)

    def _crop(self, pos, offsets, noise_gen, noisy, transforms):
        x = crop_batch(self.x, pos.to(self.x.device), self.crop, offsets)
        x = x.to(self.device, non_blocking=True)
        if transforms is not None:
            x = dihedral(x, transforms)
        if self.noise_std > 0 and bool(noisy.any()):
            noise = torch.randn(x.shape, generator=noise_gen, device=self.device, dtype=x.dtype)
            x = x + noise * (self.noise_std * noisy.to(self.device, x.dtype)).view(-1, 1, 1, 1)
        return x

    def _make(self, order, offsets, noise_gen, transforms=None):
        """x (B, C, crop, crop), or with ``views`` > 1 a list of such crops (one per
        view, each at its own offsets, (B, views, 2)), and labels."""
        pos = self.positions[order]
        noisy = self.copies[order] > 0
        if offsets is not None and offsets.dim() == 3:
            x = [self._crop(pos, offsets[:, v], noise_gen, noisy, transforms) for v in range(offsets.shape[1])]
        else:
            x = self._crop(pos, offsets, noise_gen, noisy, transforms)
        return x, self.y[pos.to(self.device)]

    def train_batches(self, batch_size, index_gen, noise_gen):
        """One epoch of shuffled random crops; a final batch of one sample is dropped
        (BatchNorm needs two)."""
        n = len(self)
        perm = torch.randperm(n, generator=index_gen)
        span = self.x.shape[-1] - self.crop + 1
        shape = (n, 2) if self.views == 1 else (n, self.views, 2)
        offsets = torch.randint(0, max(span, 1), shape, generator=index_gen)
        transforms = torch.randint(0, 8, (n,), generator=index_gen) if self.augment == "flips" else None
        for start in range(0, n, batch_size):
            order = perm[start:start + batch_size]
            if len(order) < 2 and n > 1:
                break
            yield self._make(order, offsets[start:start + batch_size], noise_gen,
                             None if transforms is None else transforms[start:start + batch_size])

    def eval_batches(self, batch_size, noise_gen=None):
        for start in range(0, len(self), batch_size):
            order = torch.arange(start, min(start + batch_size, len(self)))
            yield self._make(order, None, noise_gen)

    def n_batches(self, batch_size):
        n = len(self)
        full, rest = divmod(n, batch_size)
        return full + (1 if rest >= 2 or (rest == 1 and n == 1) else 0)
