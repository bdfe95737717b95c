"""Prospectivity from a trained SKT model.

* ``predict_map``: dense map. Windows slide over the whole stack with a chosen
  overlap; every pixel gets the mean "with mines" probability of the windows that
  cover it, per target network, and the SKT map is the mean over target networks
  (the soft version of the vote); ``pipeline.dense_map`` does the windowing.
* ``predict_tiles``: the paper's Figure 7 view: one prediction per window of the
  tile index, as a GeoPackage layer of window footprints.
"""

import geopandas as gpd
import numpy as np
import torch
from shapely.geometry import box

from ..atomic import atomic_path
from ..dense_map import dense_map, painted_core, stride_for
from ..errors import InputError
from ..grid import GridSpec
from ..nets.batches import crop_batch
from ..nets.device import amp_dtype, autocast, channels_last_for, configure_backend, resolve_device, set_threads
from ..nets.metrics import vote
from ..nets.tileset import as_tileset
from ..progress import on_terminal, progress as progress_bar
from ..vectors import write_gpkg
from .files import load_skt


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


def predict_map(model_path, stack_path, out_path, *, overlap=0.5, batch_size=64, window=None, device="auto",
                threads=None, amp=True, target_paths=None, progress=None, core=None):
    """Dense prospectivity GeoTIFF on the stack's grid (``pipeline.dense_map``).

    ``out_path``: band 1 "skt_probability" (mean over target networks), then one
    band per target network ("{name}_probability"). ``target_paths``: optional list
    of single-band files, one per target network. ``window``: inference window,
    default the tiles' window (as the test metrics); ``overlap``: fraction shared by neighbouring windows;
    ``core``: share of the window's side, centred, each score is painted on (``predict.core``; None: the
    labelled core the model was trained on, ``dense_map.painted_core``).
    Nodata where every band of the stack is nodata. Returns a summary dict.
    """
    stride_for(1, overlap)  # a bad overlap fails before the model loads
    model, info = load_skt(model_path)
    device, dtype, channels_last = _runtime(model, device, threads, amp)
    names = model.names
    if target_paths is not None and len(target_paths) != len(names):
        raise ValueError(f"{len(target_paths)} target paths for {len(names)} target networks")
    win = int(window or info.get("window") or info.get("crop"))
    if win < model.min_input_size():
        raise InputError(f"inference window {win} is smaller than the model needs ({model.min_input_size()})")
    stride = stride_for(win, overlap)

    def score(x):
        return window_probabilities(model, x, batch_size=batch_size, device=device, dtype=dtype,
                                    channels_last=channels_last)

    outputs = [(out_path, ["skt_probability"] + [f"{n}_probability" for n in names],
                lambda v: np.concatenate([v.mean(axis=0, keepdims=True), v]))]
    outputs += [(p, [f"{n}_probability"], lambda v, i=i: v[i:i + 1])
                for i, (p, n) in enumerate(zip(target_paths or [], names))]
    summary = dense_map(score, stack_path, model.elements, outputs, window=win, stride=stride,
                        batch_size=batch_size,
                        progress=_progress if (on_terminal() if progress is None else progress) else None,
                        core=painted_core(win, info.get("label_core"), core),
                        tags={"overlap": overlap, "elements": ",".join(model.elements), "targets": ",".join(names),
                              "model": str(model_path)})
    return {**summary, "targets": names, "device": str(device)}


def _progress(items):
    return progress_bar(items, "predict", unit="strip", enabled=True)


def predict_tiles(model_path, tiles, out_path, *, batch_size=64, device="auto", threads=None, amp=True,
                  layer="skt_windows"):
    """Per-window predictions on the tile index (paper Figure 7) as a GeoPackage layer.

    Columns: tile_id, row, col, split, label, n_sites, probability (mean over target
    networks), vote (majority vote), one probability per target network, footprint.
    Windows are scored whole (as in the test metrics). Windows the
    tiles stage skipped are kept with empty predictions. Returns the GeoDataFrame.
    """
    tiles = as_tileset(tiles)
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
