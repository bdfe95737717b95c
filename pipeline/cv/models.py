"""One fold's trained maps: every supervised method refitted without the fold's
held-out sites and with nothing inside the buffer around them, then mapped
over the whole grid.

Per-pixel models train on the stack's cells; window models (classical on
pooled windows, CNNs, SKT) on the cross-validation tiles, which cover the whole
grid: a fold keeps as training windows those farther than the buffer from
every held-out site (``folds.fold_window_roles``).
"""

from pathlib import Path

import numpy as np

from ..baselines.classical import fit_pixel_masks, fit_window_baseline, predict_stack, predict_windows
from ..dense_map import footprint_mean, painted_core, summed_area
from ..errors import InputError
from ..grid import GridSpec, near_points_mask
from ..pu import apply_pu
from ..rasters import grid_of, write_geotiff
from .folds import fold_sites, fold_window_roles

#: rows of the map made at a time by windows_to_map
BAND_ROWS = 256


def pixel_fold_map(method, stack_path, elements, plan, fold, out_path, *, label_distance, buffer, seed=0,
                   balance="undersample", max_samples=None, n_jobs=1):
    """Fit a per-pixel classical model in one fold and write its probability map."""
    grid = grid_of(stack_path)
    held_xy, train_xy = fold_sites(plan, fold)
    training = ~near_points_mask(grid, held_xy, buffer)
    positive = near_points_mask(grid, train_xy, label_distance)
    model = fit_pixel_masks(method, stack_path, positive, training, bands=elements, label_distance=label_distance,
                            max_samples=max_samples, balance=balance, seed=seed, n_jobs=n_jobs,
                            counts={"fold": int(fold), "held_out_sites": int(len(held_xy))})
    predict_stack(model, stack_path, out_path)
    return model.counts


def fold_tiles(tiles_dir, elements, plan, fold, buffer, pu=None):
    """The cross-validation tiles as one fold sees them (a TileSet view) and its
    grid. ``pu``: the tiles section's settings for doubtful negatives
    (``pipeline.pu``), judged from the fold's training sites only."""
    from ..nets.tileset import load_tiles     # torch: imported here so the per-pixel folds start without it

    tiles = load_tiles(tiles_dir)
    grid = GridSpec.from_dict(tiles.meta["grid"])
    index = fold_window_roles(grid, tiles.index, tiles.window, plan, fold, buffer, tiles.meta.get("label_core"))
    if pu:
        index = apply_pu(index, tiles.windows, grid, tiles.window, fold_sites(plan, fold)[1], pu)
    train = index[index["split"] == "train"]
    if train.empty or train["label"].nunique() < 2:
        raise InputError(f"fold {fold}: {len(train)} training windows ({int(train['label'].sum())} with a site) lie "
                         f"beyond the {buffer:g} m buffer around its held-out sites; a fold needs windows with and "
                         "without sites: lower evaluate.cv.buffer, or raise evaluate.cv.max_folds so that each fold "
                         "holds out fewer clusters", path=tiles.path)
    return tiles.view(elements, index), grid


def windows_to_map(scores, rows, cols, window, grid, core=None):
    """Each cell's mean score over the windows covering it (NaN where none does);
    with ``core`` (cells), over the windows whose centred core covers it, the
    whole windows' mean where no core does: ``dense_map.footprint_mean`` over
    the lattice of the windows' corners, a band of rows at a time."""
    row_starts, r = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
    col_starts, c = np.unique(np.asarray(cols, dtype=np.int64), return_inverse=True)
    lattice = np.full((1, len(row_starts), len(col_starts)), np.nan)
    lattice[0, r, c] = scores
    table = summed_area(lattice)
    out = np.empty(grid.shape, dtype=np.float64)
    all_cols = np.arange(grid.width)
    for top in range(0, grid.height, BAND_ROWS):
        band = np.arange(top, min(top + BAND_ROWS, grid.height))
        out[band] = footprint_mean(table, row_starts, col_starts, window, band, all_cols, core)[0]
    return out


def window_fold_map(method, tiles_dir, elements, plan, fold, out_path, *, buffer, seed=0, balance="noise",
                    noise_variance=0.01, pool=None, max_features=5000, n_jobs=1, pu=None, core=None):
    """Fit a classical model on pooled windows in one fold and map it: every kept
    window is scored and each cell takes the mean of its windows (over their
    centred ``core``, a share of the side, as the deep models' maps: ``predict.core``)."""
    view, grid = fold_tiles(tiles_dir, elements, plan, fold, buffer, pu)
    x, y, _ = view.arrays("train")
    model = fit_window_baseline(method, x, y, pool=pool, seed=seed, balance=balance,
                                noise_variance=noise_variance, n_jobs=n_jobs, max_features=max_features)
    # every window held in windows.npy (those below the valid-area threshold are not)
    kept = view.index[view.index["tile_id"] < len(view.windows)].sort_values("tile_id")
    ids = kept["tile_id"].to_numpy()
    scores = np.empty(len(ids))
    for start in range(0, len(ids), 256):
        scores[start:start + 256] = predict_windows(model, view.read(ids[start:start + 256]))
    prob = windows_to_map(scores, kept["row"].to_numpy(), kept["col"].to_numpy(), view.window, grid,
                          painted_core(view.window, view.meta.get("label_core"), core))
    write_geotiff(out_path, prob, grid, [f"{method} probability"],
                  tags={"method": method, "form": "window", "fold": fold, "elements": ",".join(view.elements)})
    return {**model.counts, "fold": int(fold)}


def deep_fold_map(method, tiles_dir, stack_path, elements, plan, fold, out_path, *, buffer, train, model=None,
                  skt=None, source=None, width=1.0, seed=0, device="auto", threads=None, predict=None,
                  work_dir=None, zauc=None, pu=None, source_pool=None):
    """Train a CNN baseline or SKT (with its own source network) in one fold and
    map it with the same sliding-window prediction as the main maps. ``zauc``:
    the fold's screening Z_AUC per element, for ``skt.mask_init: zauc``.
    ``source_pool``: with ``source.task: datasets``, the pooled tiles of the other
    surveys (``pipeline.source_pool``); the fold's source learns the fold's
    elements from them, none of this survey's sites among them."""
    from ..baselines.cnn import predict_cnn_map, train_cnn
    from ..skt.predict import predict_map
    from ..skt.train import train_skt, train_source

    view, _ = fold_tiles(tiles_dir, elements, plan, fold, buffer, pu)
    work = Path(work_dir or Path(out_path).with_suffix(""))
    work.mkdir(parents=True, exist_ok=True)
    predict = predict or {}
    overlap, batch, core = predict.get("overlap", 0.5), predict.get("batch_size", 64), predict.get("core")
    if method == "skt":
        source_path = None
        if skt.get("transfer", True):
            source_path = work / "source.pt"
            if source.get("task") == "datasets":
                if source_pool is None:
                    raise InputError("source.task datasets: the fold's source needs the source pool's tiles")
                source_tiles, source_elements = source_pool, view.elements
            else:
                source_tiles, source_elements = view, None
            train_source(source_tiles, source=source, model=model, train=train, seed=seed, device=device,
                         threads=threads, model_path=source_path, checkpoint_path=work / "source.ckpt",
                         progress=False, elements=source_elements)
        summary = train_skt(view, source_path=source_path, skt=skt, model=model, train=train, seed=seed,
                            device=device, threads=threads, zauc=zauc, model_path=work / "skt.pt",
                            checkpoint_path=work / "skt.ckpt", progress=False)
        predict_map(work / "skt.pt", stack_path, out_path, overlap=overlap, batch_size=batch, device=device,
                    threads=threads, amp=train.get("amp", True), core=core)
        return {k: summary[k] for k in ("train_windows", "train_with_mines", "test_windows", "test_with_mines")}
    summary, _ = train_cnn(view, method=method, width=width, train=train, seed=seed, device=device,
                           threads=threads, model_path=work / "model.pt", checkpoint_path=work / "model.ckpt",
                           progress=False)
    predict_cnn_map(work / "model.pt", stack_path, out_path, overlap=overlap, batch_size=batch, device=device,
                    threads=threads, amp=train.get("amp", True), core=core)
    return {k: summary[k] for k in ("train_windows", "train_with_mines", "test_windows", "test_with_mines")}
