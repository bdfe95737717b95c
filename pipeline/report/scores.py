"""The test windows' labels and scores, one table for the report's ROC figure.

The workflow writes it once (rule test_window_scores, tables/test_window_scores.csv):
SKT's from its window layer (maps/skt_windows.gpkg), each dense baseline's from
its map over the tile index's windows. The report only reads it
(``read_window_scores``)::

    method,window_score,label,probability
    skt,model,1,0.83
    svm_pixel,mean,0,0.12

One row per test window and method; ``window_score`` says how the window was
scored ("model": the method scores whole windows; else the reduction of the
map's pixels over the window); ``probability`` is empty where the method left
the window unscored (a window without valid pixels).
"""

import logging

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from ..records import read_json
from .inputs import method_label, read_csv, require_columns

log = logging.getLogger("pipeline.report")

#: Columns of tables/test_window_scores.csv.
COLUMNS = ("method", "window_score", "label", "probability")
#: ``window_score`` of a method that scores whole windows (SKT).
MODEL_SCORE = "model"


def window_score_table(windows=None, tiles_index=None, dense_maps=None, *, window=None, reduce="mean"):
    """Labels and probabilities on the test windows as a COLUMNS table: SKT from
    ``windows`` (its window layer), each {name: GeoTIFF} of ``dense_maps`` over
    the windows of ``tiles_index`` (window score = ``reduce`` of its pixels for
    the per-pixel baselines, as in the comparison table; the mean for the others)."""
    parts = []
    if windows:
        parts.append(_skt_scores(windows))
    if dense_maps and tiles_index and window:
        parts += _map_scores(tiles_index, dense_maps, int(window), reduce)
    if not parts:
        return pd.DataFrame({c: [] for c in COLUMNS})
    sizes = [len(labels) for _, _, labels, _ in parts]
    return pd.DataFrame({"method": np.repeat([p[0] for p in parts], sizes),
                         "window_score": np.repeat([p[1] for p in parts], sizes),
                         "label": np.concatenate([p[2] for p in parts]).astype(int),
                         "probability": np.concatenate([p[3] for p in parts]).astype(float)})


def _skt_scores(path):
    import geopandas as gpd

    w = gpd.read_file(path)
    require_columns(w, ("split", "label", "probability"), path)
    test = w[w["split"] == "test"]
    return "skt", MODEL_SCORE, test["label"].to_numpy(int), test["probability"].to_numpy(float)


def _map_scores(tiles_index, dense_maps, window, reduce):
    import geopandas as gpd

    from ..baselines.classical import window_probabilities

    index = pd.DataFrame(gpd.read_file(tiles_index).drop(columns="geometry"))
    test = (index["split"] == "test").to_numpy()
    labels = index.loc[test, "label"].to_numpy(int)
    out = []
    for name, path in dense_maps.items():
        r = reduce if name.endswith("_pixel") else "mean"
        out.append((name, str(r), labels, window_probabilities(path, index, window, r)[test]))
    return out


def write_window_scores(out_csv, *, windows, tiles_index, tiles_meta, dense_maps, reduce="mean"):
    """tables/test_window_scores.csv from the window layer, the tile index and
    tiles.json (for the window size) and the {name: GeoTIFF} dense maps."""
    window = read_json(tiles_meta).get("window")
    table = window_score_table(windows, tiles_index, dense_maps, window=window, reduce=reduce)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)  # full precision: the report's ROC is drawn from these values
    log.info("test window scores: %d methods, %d rows -> %s", table["method"].nunique(), len(table), out_csv)
    return table


def read_window_scores(path):
    """{legend name: (labels, probabilities)} from tables/test_window_scores.csv,
    in the table's order, for figures.roc_figure (unscored windows as NaN)."""
    table = read_csv(path, dtype={"method": str, "window_score": str})
    require_columns(table, COLUMNS, path)
    scores = {}
    for (method, how), rows in table.groupby(["method", "window_score"], sort=False):
        name = method_label(method) if how == MODEL_SCORE else f"{method_label(method)} (map, window {how})"
        scores[name] = (rows["label"].to_numpy(int), rows["probability"].to_numpy(float))
    return scores
