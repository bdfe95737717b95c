"""Small synthetic surveys in the tiles stage's format, for tests and benchmarks.

A z-scored multi-band stack with Gaussian anomalies around random "sites" (so the
task is learnable), a nodata corner, and the windows / index / tiles.json that the
tiles stage would write for it.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from affine import Affine
from scipy.ndimage import gaussian_filter

from ..grid import GridSpec
from ..rasters import write_geotiff


def synthetic_stack(height=96, width=96, channels=3, n_sites=8, seed=0, anomaly=2.5, sigma=4.0,
                    nodata_corner=0.5):
    """(C, H, W) float32 z-scored stack with NaN nodata and the sites' (rows, cols).

    Half of the channels (at least one) carry an anomaly around each site; all carry
    smooth background noise. Nodata: a corner triangle in every band, and a small
    patch in band 0 only (which stays valid in a prediction map).
    """
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, height, n_sites)
    cols = rng.integers(0, width, n_sites)
    yy, xx = np.mgrid[0:height, 0:width]
    bump = np.zeros((height, width))
    for r, c in zip(rows, cols):
        bump += np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * sigma ** 2))
    stack = np.empty((channels, height, width), dtype=np.float64)
    for b in range(channels):
        background = gaussian_filter(rng.normal(size=(height, width)), 3.0)
        background /= background.std() + 1e-12
        stack[b] = background + (anomaly * bump if b < max(1, channels // 2) else 0.0)
    stack = (stack - stack.mean(axis=(1, 2), keepdims=True)) / stack.std(axis=(1, 2), keepdims=True)
    stack = stack.astype(np.float32)
    if nodata_corner:
        # a triangle of nodata in the top-left corner, legs ``nodata_corner`` x the short side
        corner = (yy + xx) < int(min(height, width) * nodata_corner)
        stack[:, corner] = np.nan
        stack[0, height - 3:, :5] = np.nan          # nodata in one band only stays valid
    return stack, rows, cols


def write_synthetic_survey(out_dir, *, height=96, width=96, channels=3, window=24, stride=12, split_row=None,
                           n_sites=8, seed=0, elements=None, min_valid_fraction=0.5, crs="EPSG:32649",
                           cell=100.0, anomaly=2.5):
    """Write ``stack/zscore.tif`` and ``tiles/`` (windows.npy, index.csv, tiles.json) under ``out_dir``.

    Returns {"stack": path, "tiles": dir, "grid": GridSpec, "elements": names}.
    """
    out_dir = Path(out_dir)
    elements = list(elements or [f"E{i}" for i in range(channels)])
    stack, site_rows, site_cols = synthetic_stack(height, width, channels, n_sites, seed, anomaly=anomaly)
    grid = GridSpec(crs, Affine(cell, 0.0, 500000.0, 0.0, -cell, 2500000.0), width, height)
    stack_path = out_dir / "stack" / "zscore.tif"
    stack_path.parent.mkdir(parents=True, exist_ok=True)
    write_geotiff(stack_path, stack, grid, elements)
    split_row = int(split_row if split_row is not None else round(height * 0.75))
    records = []
    for split, (begin, end) in (("train", (0, split_row)), ("test", (split_row, height))):
        for r in range(begin, end - window + 1, stride):
            for c in range(0, width - window + 1, stride):
                inside = ((site_rows >= r) & (site_rows < r + window) & (site_cols >= c) & (site_cols < c + window))
                valid = np.isfinite(stack[:, r:r + window, c:c + window]).all(axis=0).mean()
                records.append({"row": r, "col": c, "split": split if valid >= min_valid_fraction else "skipped",
                                "label": int(inside.any()), "n_sites": int(inside.sum())})
    index = pd.DataFrame(records)
    index = pd.concat([index[index["split"] != "skipped"], index[index["split"] == "skipped"]], ignore_index=True)
    index.insert(0, "tile_id", np.arange(len(index)))
    kept = index[index["split"] != "skipped"]
    windows = np.zeros((len(kept), channels, window, window), dtype=np.float32)
    filled = np.nan_to_num(stack, nan=0.0)
    for i, (r, c) in enumerate(zip(kept["row"], kept["col"])):
        windows[i] = filled[:, r:r + window, c:c + window]
    tiles_dir = out_dir / "tiles"
    tiles_dir.mkdir(parents=True, exist_ok=True)
    np.save(tiles_dir / "windows.npy", windows)
    index.to_csv(tiles_dir / "index.csv", index=False)
    (tiles_dir / "tiles.json").write_text(json.dumps({
        "elements": elements, "window": window, "stride": stride, "split_row": split_row,
        "grid": grid.to_dict()}))
    return {"stack": stack_path, "tiles": tiles_dir, "grid": grid, "elements": elements}
