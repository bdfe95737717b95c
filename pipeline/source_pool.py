"""Labelled windows of other surveys for the source network (``source.task: datasets``).

The source network N_S should bring knowledge the target's own windows do not
hold (paper section 3.1). Here it learns the same task, "does this window hold a
known site?", on the labelled windows of other surveys, pooled into one set of
tiles that ``pipeline.skt.train.train_source`` reads like any other.

A survey's windows are cut from its cross-validation stack (every element it
has, each scaled within that survey by the same ``stack`` settings), at the
target's window and stride in cells, labelled by its own sites, its lower
``test_fraction`` kept as the source's test part. Their channels are then
matched to the target's elements by name: an element a survey lacks is 0 in
every window of it (the band's mean after a z-score, so it carries nothing), and
is listed in ``tiles.json``. The validity band, when the target's tiles have one,
is the survey's own (1 where all of its bands hold data).

The pool holds every element of the target's stack, so the main source and each
cross-validation fold's source take the bands their screening selected as a
view (``TileSet.view``) of the same files. No window of the target survey is in
the pool, so nothing of a held-out site reaches the source.
"""

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_path, write_json
from .errors import InputError
from .rasters import grid_of
from .nets.tileset import REQUIRED_COLUMNS, load_tiles
from .tiles import TileLayout, resolve_split_row, write_tiles
from .window_inputs import VALIDITY, input_names

log = logging.getLogger("pipeline.source_pool")

#: the splits a source network uses (skipped windows have no array)
USED = ("train", "test", "unlabelled")
#: windows copied into the pool at a time
CHUNK = 256


def pool_source_windows(surveys, elements, out_dir, *, window, stride, label_core=None, test_fraction=0.25,
                        min_valid_fraction=0.5, validity_band=True, pu=None):
    """Write pooled tiles (``windows.npy``, ``index.csv``, ``tiles.json``) to ``out_dir``.

    ``surveys``: list of (name, stack path, site coordinates (n, 2) in the stack's
    CRS); ``elements``: the target's element names, the pool's channel order
    (then the validity band with ``validity_band``). ``label_core``: cells of the
    window's centre where a site labels it (None: the whole window). ``pu``: the
    tiles settings for doubtful negatives (``pipeline.pu``). Returns the summary
    written to tiles.json.
    """
    if not surveys:
        raise InputError("source.task datasets needs at least one dataset in source.datasets")
    elements = [str(e) for e in elements]
    names = input_names(elements, validity_band)
    out_dir = Path(out_dir)
    parts_dir = out_dir / "parts"
    parts, summary = [], {}
    for name, stack_path, site_xy in surveys:
        grid = grid_of(stack_path)
        try:
            split_row = resolve_split_row(grid.height, window, test_fraction)
        except InputError:
            split_row = grid.height      # too few rows for a test part: every window trains the source
            log.warning("source pool: %s has %d rows, too few for a test part at window %d; all its windows train",
                        name, grid.height, window)
        layout = TileLayout(window, stride, split_row, label_core)
        part = write_tiles(stack_path, site_xy, layout, parts_dir / name, min_valid_fraction=min_valid_fraction,
                           sites_outside_ok=True, validity_band=validity_band, pu=pu)
        tiles = load_tiles(parts_dir / name)
        shared = [e for e in elements if e in tiles.elements]
        missing = [e for e in elements if e not in tiles.elements]
        if not shared:
            raise InputError(f"source dataset {name!r} has none of the target's elements ({', '.join(elements)}; "
                             f"it has {', '.join(e for e in tiles.elements if e != VALIDITY)})", path=stack_path)
        used = tiles.index[tiles.index["split"].isin(USED)]
        parts.append((name, tiles, used, missing))
        summary[name] = {"stack": str(stack_path), "windows": int(len(used)),
                         "with_mines": int(used["label"].sum()), "counts": part["counts"],
                         "missing_elements": missing, "cell_size": grid.cell_size[0]}
        log.info("source pool: %s gives %d windows (%d with a site); elements it lacks (0 in its windows): %s",
                 name, len(used), int(used["label"].sum()), ", ".join(missing) or "none")
    total = sum(len(used) for _, _, used, _ in parts)
    with atomic_path(out_dir / "windows.npy") as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(total, len(names), window, window))
        offset = 0
        for _, tiles, used, missing in parts:
            ids = used["tile_id"].to_numpy(np.int64)
            present = [n for n in names if n not in missing]
            channels = [names.index(n) for n in present]
            for start in range(0, len(ids), CHUNK):      # a large survey is never read whole
                chunk = ids[start:start + CHUNK]
                block = np.zeros((len(chunk), len(names), window, window), dtype=np.float32)
                block[:, channels] = tiles.read(chunk, present)
                out[offset + start:offset + start + len(chunk)] = block
            offset += len(ids)
        out.flush()
        del out
    frames, offset = [], 0
    for name, _, used, _ in parts:
        frame = used[list(REQUIRED_COLUMNS)].copy()
        frame["tile_id"] = np.arange(offset, offset + len(frame))
        frame.insert(1, "survey", name)
        frames.append(frame)
        offset += len(frame)
    index = pd.concat(frames, ignore_index=True)
    if not (index.loc[index["split"] == "train", "label"] == 1).any():
        raise InputError(f"the source datasets ({', '.join(summary)}) give no training window with a site: "
                         "add a dataset with sites, or use another source.task")
    if not (index.loc[index["split"] == "test", "label"] == 1).any():
        log.warning("source pool: no test window holds a site; the source's test metrics will be empty")
    with atomic_path(out_dir / "index.csv") as tmp:
        index.to_csv(tmp, index=False)
    shutil.rmtree(parts_dir, ignore_errors=True)
    meta = {"elements": names, "window": int(window), "stride": int(stride), "label_core": label_core,
            "validity_band": bool(validity_band), "source_datasets": summary,
            "counts": {s: {"windows": int((index["split"] == s).sum()),
                           "with_mines": int(((index["split"] == s) & (index["label"] == 1)).sum())}
                       for s in USED}}
    write_json(out_dir / "tiles.json", meta)
    return meta
