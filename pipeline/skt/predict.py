"""Prospectivity from a trained SKT model.

* ``predict_map``: dense map. Windows slide over the whole stack with a chosen
  overlap; every pixel gets the mean "with mines" probability of the windows that
  cover it, per target network, and the SKT map is the mean over target networks
  (the soft version of the vote). The stack is read one strip of window rows at a
  time and finished rows are written as soon as no later window touches them, so
  memory is bounded by a strip, never the whole grid.
* ``predict_tiles``: the paper's Figure 7 view: one prediction per window of the
  tile index, as a GeoPackage layer of window footprints.
"""

import contextlib
import math

import geopandas as gpd
import numpy as np
import rasterio
import torch
from rasterio.windows import Window
from shapely.geometry import box

from ..atomic import atomic_path
from ..errors import InputError
from ..grid import GridSpec
from ..rasters import NODATA, open_geotiff_for_writing, to_nodata
from ..vectors import write_gpkg
from .data import TileSet, crop_batch, load_tiles
from .device import amp_dtype, autocast, channels_last_for, configure_backend, resolve_device, set_threads
from .files import load_skt
from .model import vote


@torch.inference_mode()
def window_probabilities(model, windows, *, crop=None, batch_size=64, device=None, dtype=None,
                         channels_last=False):
    """(m, N) "with mines" probability of each target network for each window.

    ``windows``: array-like (N, C, S, S) (a memmap is read one batch at a time);
    ``crop``: centre crop size, None = whole window.
    """
    device = device or torch.device("cpu")
    model.eval()
    out = []
    for start in range(0, len(windows), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(windows[start:start + batch_size], dtype=np.float32))
        if crop is not None:
            x = crop_batch(x, torch.arange(len(x)), crop)
        x = x.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, dtype):
            logits = model(x)
        out.append(torch.stack([torch.softmax(z.float(), 1)[:, 1] for z in logits]).cpu())
    if not out:
        return np.zeros((len(model.targets), 0))
    return torch.cat(out, 1).double().numpy()


def _runtime(model, device, threads, amp):
    device = resolve_device(device)
    set_threads(threads)
    configure_backend(device)
    model.to(device)
    channels_last = channels_last_for(device)
    if channels_last:  # faster convolutions on CUDA
        model.to(memory_format=torch.channels_last)
    return device, amp_dtype(device, amp), channels_last


def covering_starts(size, window, stride):
    """Window origins covering [0, size): regular steps plus one flush with the end."""
    if size <= window:
        return [0]
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def band_indexes(src, elements, path):
    names = [d or "" for d in src.descriptions]
    missing = [e for e in elements if e not in names]
    if missing:
        raise InputError(f"the stack has no band named {missing} (bands: {names}); the model needs "
                         f"{list(elements)}", path=path)
    return [names.index(e) + 1 for e in elements]


def predict_map(model_path, stack_path, out_path, *, overlap=0.5, batch_size=64, window=None, device="auto",
                threads=None, amp=True, target_paths=None, progress=False):
    """Dense prospectivity GeoTIFF on the stack's grid.

    ``out_path``: band 1 "skt_probability" (mean over target networks), then one
    band per target network ("{name}_probability"). ``target_paths``: optional list
    of single-band files, one per target network. ``window``: inference window,
    default the tiles' window (as the test metrics); ``overlap``: fraction shared by neighbouring windows.
    Nodata where every band of the stack is nodata. Returns a summary dict.
    """
    if not 0 <= float(overlap) < 1:
        raise InputError(f"predict.overlap must be in [0, 1), got {overlap}")
    model, info = load_skt(model_path)
    device, dtype, channels_last = _runtime(model, device, threads, amp)
    names = model.names
    m = len(names)
    if target_paths is not None and len(target_paths) != m:
        raise ValueError(f"{len(target_paths)} target paths for {m} target networks")
    win = int(window or info.get("window") or info.get("crop"))
    if win < model.min_input_size():
        raise InputError(f"inference window {win} is smaller than the model needs ({model.min_input_size()})")
    stride = max(1, int(round(win * (1 - float(overlap)))))
    with rasterio.open(stack_path) as src:
        grid = GridSpec(src.crs.to_string() if src.crs else None, src.transform, src.width, src.height)
        if grid.crs is None:
            raise InputError("the stack has no CRS", path=stack_path)
        bands = band_indexes(src, model.elements, stack_path)
        H, W = src.height, src.width
        rows, cols = covering_starts(H, win, stride), covering_starts(W, win, stride)
        per_chunk = max(1, math.ceil(batch_size / len(cols)))
        chunks = [rows[i:i + per_chunk] for i in range(0, len(rows), per_chunk)]
        descriptions = ["skt_probability"] + [f"{n}_probability" for n in names]
        n_windows = 0
        with contextlib.ExitStack() as stack:
            dst = stack.enter_context(open_geotiff_for_writing(out_path, grid, descriptions))
            extra = [stack.enter_context(open_geotiff_for_writing(p, grid, [f"{n}_probability"]))
                     for p, n in zip(target_paths or [], names)]
            acc = np.zeros((m, 0, W), dtype=np.float64)
            cnt = np.zeros((0, W), dtype=np.float64)
            buf0 = 0
            for k, chunk in enumerate(_progress(chunks, progress)):
                top, bottom = chunk[0], min(chunk[-1] + win, H)
                block = src.read(bands, window=Window(0, top, W, bottom - top), masked=True)
                # zero-filled like the training windows, padded when the grid is smaller than a window
                data = np.zeros((len(bands), max(bottom - top, win), max(W, win)), dtype=np.float32)
                data[:, :bottom - top, :W] = block.filled(0.0)
                empty = np.ones(data.shape[1:], dtype=bool)
                empty[:bottom - top, :W] = np.ma.getmaskarray(block).all(axis=0)
                origins = [(r, c) for r in chunk for c in cols
                           if not empty[r - top:r - top + win, c:c + win].all()]
                acc, cnt = _grow(acc, cnt, bottom - buf0)
                if origins:
                    x = np.stack([data[:, r - top:r - top + win, c:c + win] for r, c in origins])
                    probs = window_probabilities(model, x, batch_size=batch_size, device=device, dtype=dtype,
                                                 channels_last=channels_last)
                    n_windows += len(origins)
                    for (r, c), p in zip(origins, probs.T):
                        r0, r1, c1 = r - buf0, min(r + win, H) - buf0, min(c + win, W)
                        acc[:, r0:r1, c:c1] += p[:, None, None]
                        cnt[r0:r1, c:c1] += 1
                # rows above the next strip's first window are final
                done = chunks[k + 1][0] if k + 1 < len(chunks) else H
                n = done - buf0
                if n > 0:
                    _write_rows(src, bands, [dst] + extra, acc[:, :n], cnt[:n], buf0)
                    acc, cnt, buf0 = acc[:, n:], cnt[n:], done
            dst.update_tags(window=win, stride=stride, overlap=overlap, elements=",".join(model.elements),
                            targets=",".join(names), model=str(model_path))
    return {"window": win, "stride": stride, "windows": n_windows, "targets": names,
            "width": W, "height": H, "device": str(device)}


def _grow(acc, cnt, rows):
    """Extend the accumulators to at least ``rows`` rows."""
    grow = rows - cnt.shape[0]
    if grow <= 0:
        return acc, cnt
    return (np.concatenate([acc, np.zeros((acc.shape[0], grow, acc.shape[2]))], axis=1),
            np.concatenate([cnt, np.zeros((grow, cnt.shape[1]))], axis=0))


def _write_rows(src, bands, outputs, acc, cnt, row0):
    """Write finished rows: mean over windows per target, their mean, nodata where the
    stack has nodata in every band."""
    n, width = cnt.shape
    masks = src.read_masks(bands, window=Window(0, row0, width, n))
    nodata = (masks == 0).all(axis=0) | (cnt == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_target = acc / cnt[None]
    per_target[:, nodata] = np.nan
    out = to_nodata(np.concatenate([per_target.mean(axis=0)[None], per_target]), NODATA)
    window = Window(0, row0, width, n)
    outputs[0].write(out, window=window)
    for i, single in enumerate(outputs[1:]):
        single.write(out[i + 1:i + 2], window=window)


def _progress(items, enabled):
    if not enabled:
        return items
    from tqdm.auto import tqdm
    return tqdm(items, desc="predict", unit="strip")


def predict_tiles(model_path, tiles, out_path, *, batch_size=64, device="auto", threads=None, amp=True,
                  layer="skt_windows"):
    """Per-window predictions on the tile index (paper Figure 7) as a GeoPackage layer.

    Columns: tile_id, row, col, split, label, n_sites, probability (mean over target
    networks), vote (majority vote), one probability per target network, footprint.
    Windows are scored whole (as in the test metrics). Windows the
    tiles stage skipped are kept with empty predictions. Returns the GeoDataFrame.
    """
    tiles = tiles if isinstance(tiles, TileSet) else load_tiles(tiles)
    if "grid" not in tiles.meta:
        raise InputError("tiles.json has no 'grid' entry", path=tiles.path)
    grid = GridSpec.from_dict(tiles.meta["grid"])
    model, _ = load_skt(model_path)
    device, dtype, channels_last = _runtime(model, device, threads, amp)
    index = tiles.index.copy()
    used = index["split"].isin(("train", "test")).to_numpy()
    ids = index.loc[used, "tile_id"].to_numpy(np.int64)
    channels = [tiles.elements.index(e) for e in model.elements] if all(
        e in tiles.elements for e in model.elements) else None
    if channels is None:
        raise InputError(f"the tiles lack elements the model needs: "
                         f"{[e for e in model.elements if e not in tiles.elements]}", path=tiles.path)
    view = _Selected(tiles.windows, ids, channels)
    probs = window_probabilities(model, view, batch_size=batch_size, device=device, dtype=dtype,
                                 channels_last=channels_last)
    classes, mean = vote(probs) if probs.shape[1] else (np.zeros(0, np.int64), np.zeros(0))
    frame = index[["tile_id", "row", "col", "split", "label", "n_sites"]].copy()
    frame["probability"] = np.nan
    frame.loc[used, "probability"] = mean
    frame["vote"] = np.nan
    frame.loc[used, "vote"] = classes
    frame["vote"] = frame["vote"].astype("Int64")
    for name, p in zip(model.names, probs):
        frame[f"p_{name}"] = np.nan
        frame.loc[used, f"p_{name}"] = p
    footprints = [box(*grid.window_bounds(int(r), int(c), tiles.window, tiles.window))
                  for r, c in zip(frame["row"], frame["col"])]
    gdf = gpd.GeoDataFrame(frame, geometry=footprints, crs=grid.crs)
    with atomic_path(out_path) as tmp:
        write_gpkg(gdf, tmp, layer=layer)
    return gdf


class _Selected:
    """Lazy view of windows[ids][:, channels] that reads one batch at a time."""

    def __init__(self, windows, ids, channels):
        self.windows, self.ids, self.channels = windows, ids, channels

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, sl):
        x = np.asarray(self.windows[self.ids[sl]])
        return x[:, self.channels] if self.channels != list(range(x.shape[1])) else x
