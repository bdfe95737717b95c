"""Maps against a known answer: on a synthetic survey whose generator wrote the
true deposit field, each map's ROC AUC at telling the cells above the truth's
90th percentile from the rest of the sampled area. Unlike the site-based
scores, this counts undiscovered deposits and barren haloes too."""

import numpy as np
import pandas as pd
import rasterio
from rasterio.warp import Resampling, reproject

from ..errors import InputError
from .metrics import roc_auc


def truth_on_grid(truth_path, grid):
    """The truth raster resampled (bilinear) onto ``grid`` (a GridSpec); NaN where it has no value."""
    out = np.full(grid.shape, np.nan, dtype=np.float64)
    with rasterio.open(truth_path) as src:
        reproject(source=rasterio.band(src, 1), destination=out, src_transform=src.transform, src_crs=src.crs,
                  src_nodata=src.nodata, dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan,
                  resampling=Resampling.bilinear)
    return out


def truth_auc(values, truth, area, quantile=0.9):
    """ROC AUC of map ``values`` for the cells of ``area`` whose truth is above its
    ``quantile`` there. Cells the map leaves empty rank below every other (and are
    counted). Returns a dict."""
    area = np.asarray(area, dtype=bool) & np.isfinite(truth)
    if not area.any():
        raise InputError("the truth raster does not overlap the sampled area")
    t = truth[area]
    level = float(np.quantile(t, quantile))
    positive = (t > level).astype(np.int64)
    if positive.sum() == 0 or positive.sum() == positive.size:
        raise InputError(f"the truth above its {quantile:g} quantile ({level:g}) leaves one class only")
    v = np.asarray(values, dtype=np.float64)[area]
    empty = ~np.isfinite(v)
    if empty.all():
        return {"truth_auc": float("nan"), "n_cells": int(v.size), "n_positive": int(positive.sum()),
                "n_no_value": int(empty.sum()), "truth_level": level}
    v = np.where(empty, np.nanmin(v) - 1.0, v)
    return {"truth_auc": roc_auc(positive, v), "n_cells": int(v.size),
            "n_positive": int(positive.sum()), "n_no_value": int(empty.sum()), "truth_level": level}


def truth_table(truth_path, maps, area, grid, quantile=0.9):
    """One row per map ({method: GeoTIFF on ``grid``, band 1}): method, truth_auc and counts."""
    truth = truth_on_grid(truth_path, grid)
    rows = []
    for method, path in maps.items():
        with rasterio.open(path) as src:
            if (src.width, src.height) != (grid.width, grid.height) or src.transform != grid.transform:
                raise InputError(f"map {method} is not on the evaluation grid", path=path)
            values = src.read(1, masked=True).astype(np.float64).filled(np.nan)
        rows.append({"method": method, **truth_auc(values, truth, area, quantile)})
    return pd.DataFrame(rows)
