"""Report figures as PNG files, one function per figure.

Every function takes arrays, tables or paths plus an output path, writes the
PNG atomically and returns its path. Figures are built on a bare
``matplotlib.figure.Figure`` (no pyplot): no global state, no GUI backend, safe
in Snakemake jobs and threads.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..atomic import atomic_path
from ..errors import InputError
from ..qgis_style import SPREAD_MAX

#: Probability colour ramp; pipeline.qgis_style uses the same stops for QGIS.
PROBABILITY_CMAP = "viridis"
#: Spread (uncertainty) colour ramp, unlike the probability's; pipeline.qgis_style.MAGMA for QGIS.
SPREAD_CMAP = "magma"
ELEMENT_CMAP = "Spectral_r"
DPI = 110
#: Longest side, in cells, a raster is read at for a figure (overviews make it cheap).
MAX_CELLS = 600


def _save(fig, out_path):
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    return out_path


def _extent(transform, width, height):
    left, top = transform.c, transform.f
    right, bottom = left + transform.a * width, top + transform.e * height
    return (left, right, bottom, top)


def read_raster_bands(path, bands=None, max_cells=MAX_CELLS):
    """Bands of a GeoTIFF for plotting: list of (name, array with NaN, extent, unit).

    Read decimated to at most ``max_cells`` on the longer side (GDAL serves it
    from the overviews), so a paper-sized grid costs no more than a small one.
    """
    with rasterio.open(path) as src:
        bands = list(bands or range(1, src.count + 1))
        scale = max(1.0, max(src.width, src.height) / float(max_cells))
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        extent = _extent(src.transform, src.width, src.height)
        out = []
        for b in bands:
            data = src.read(b, out_shape=shape, masked=True, out_dtype="float64")
            name = src.descriptions[b - 1] or (Path(path).stem if src.count == 1 else f"band {b}")
            out.append((name, data.filled(np.nan), extent, src.units[b - 1] or ""))
    return out


def _panel_grid(n, ncols=None):
    ncols = ncols or min(4, max(1, math.ceil(math.sqrt(n))))
    return math.ceil(n / ncols), ncols


def _robust_limits(values, low=2.0, high=98.0):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [low, high])
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max()) + 1e-12
    return float(lo), float(hi)


def element_rasters_figure(rasters, out_path, *, units=None, ncols=None, title=None):
    """Element rasters side by side (paper Fig. 3).

    ``rasters``: one multi-band GeoTIFF (e.g. the z-score stack) or a list of
    single-band GeoTIFFs, one per element. Colours stretch between the 2nd and
    98th percentile of each panel: concentrations are skewed and a few hot
    cells would otherwise flatten the rest. ``units``: {element: unit} for
    the colour bars where the files carry none.
    """
    paths = [rasters] if isinstance(rasters, (str, Path)) else list(rasters)
    if not paths:
        raise InputError("no element rasters to plot")
    panels = [p for path in paths for p in read_raster_bands(path)]
    nrows, ncols = _panel_grid(len(panels), ncols)
    fig = Figure(figsize=(3.4 * ncols, 3.0 * nrows + (0.4 if title else 0)))
    for i, (name, data, extent, unit) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        vmin, vmax = _robust_limits(data)
        im = ax.imshow(np.ma.masked_invalid(data), extent=extent, cmap=ELEMENT_CMAP, vmin=vmin, vmax=vmax,
                       interpolation="nearest")
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
        bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        unit = unit or (units or {}).get(name, "")
        if unit:
            bar.set_label(unit)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_path)


def _boundary_y(transform, split_row):
    return transform.f + transform.e * float(split_row)


def _site_parts(sites_xy, transform, split_row):
    """Boolean "in the test part" per site (row >= split_row), None without a split."""
    if split_row is None or len(sites_xy) == 0:
        return None
    return np.asarray(sites_xy)[:, 1] <= _boundary_y(transform, split_row)


def _draw_sites_and_boundary(ax, sites_xy, transform, width, height, split_row):
    sites_xy = np.asarray(sites_xy, dtype=float).reshape(-1, 2)
    # a site off the grid belongs to neither part: counted apart, not drawn
    left, right, bottom, top = _extent(transform, width, height)
    on_grid = (sites_xy[:, 0] >= left) & (sites_xy[:, 0] <= right) & (sites_xy[:, 1] >= bottom) & \
        (sites_xy[:, 1] <= top)
    n_off = int((~on_grid).sum())
    sites_xy = sites_xy[on_grid]
    if n_off:
        ax.plot([], [], " ", label=f"sites outside the grid ({n_off}, not drawn)")
    test = _site_parts(sites_xy, transform, split_row)
    if len(sites_xy):
        if test is None:
            ax.scatter(sites_xy[:, 0], sites_xy[:, 1], s=28, marker="^", c="red", edgecolors="black",
                       linewidths=0.6, label=f"known sites ({len(sites_xy)})", zorder=3)
        else:
            for mask, colour, label in ((~test, "white", "training-part sites"), (test, "red", "test-part sites")):
                if mask.any():
                    ax.scatter(sites_xy[mask, 0], sites_xy[mask, 1], s=30, marker="^", c=colour,
                               edgecolors="black", linewidths=0.7, label=f"{label} ({int(mask.sum())})", zorder=3)
    if split_row is not None:
        left, right, bottom, top = _extent(transform, width, height)
        y = _boundary_y(transform, split_row)
        ax.axhline(y, color="black", linestyle="--", linewidth=1.2, label="train / test boundary", zorder=2)
        ax.text(left, y, " training part \u2191", va="bottom", ha="left", fontsize=8, zorder=4,
                bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})
        ax.text(left, y, " test part \u2193", va="top", ha="left", fontsize=8, zorder=4,
                bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)
    if len(sites_xy) or n_off or split_row is not None:
        ax.legend(loc="upper right", fontsize=7, framealpha=0.85)


def prospectivity_map_figure(prob_path, out_path, *, sites_xy=(), split_row=None, band=1, title=None):
    """Prospectivity map with known sites and the train/test boundary (paper Fig. 7).

    ``sites_xy``: (n, 2) site coordinates in the raster's CRS; sites above the
    boundary (training part) and below it (test part) are drawn differently.
    ``split_row``: pixel row of the boundary (tiles.json), None to omit it.
    """
    with rasterio.open(prob_path) as src:
        width, height, transform, crs = src.width, src.height, src.transform, src.crs
    (name, data, extent, _), = read_raster_bands(prob_path, [band])
    fig = Figure(figsize=(7.5, 6.5 * height / max(width, 1) + 0.8))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(np.ma.masked_invalid(data), extent=extent, cmap=PROBABILITY_CMAP, vmin=0.0, vmax=1.0,
                   interpolation="nearest")
    _draw_sites_and_boundary(ax, sites_xy, transform, width, height, split_row)
    ax.set_aspect("equal")
    ax.set_xlabel(f"x ({crs.to_string() if crs else 'no CRS'})")
    ax.set_ylabel("y")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).set_label("probability of \u201cwith mines\u201d")
    ax.set_title(title or name)
    fig.tight_layout()
    return _save(fig, out_path)


def probability_maps_figure(maps, out_path, *, sites_xy=(), split_row=None, ncols=None,
                            title="Probability maps", cmap=PROBABILITY_CMAP, vmax=1.0, label="probability"):
    """Several probability maps side by side on one 0..``vmax`` scale (0..1 by default).

    ``maps``: {name: GeoTIFF path} (band 1 each); sites and boundary as in
    ``prospectivity_map_figure``, the legend in the first panel only.
    ``cmap``, ``vmax``, ``label``: colour ramp, top of the scale and colour-bar
    label, for maps of something else on a fixed scale (see ``spread_maps_figure``).
    """
    items = list(dict(maps).items())
    if not items:
        raise InputError("no probability maps to plot")
    nrows, ncols = _panel_grid(len(items), ncols)
    fig = Figure(figsize=(4.0 * ncols, 3.7 * nrows + (0.4 if title else 0)))
    im = None
    for i, (name, path) in enumerate(items):
        with rasterio.open(path) as src:
            width, height, transform = src.width, src.height, src.transform
        (_, data, extent, _), = read_raster_bands(path, [1])
        ax = fig.add_subplot(nrows, ncols, i + 1)
        im = ax.imshow(np.ma.masked_invalid(data), extent=extent, cmap=cmap, vmin=0.0, vmax=vmax,
                       interpolation="nearest")
        _draw_sites_and_boundary(ax, sites_xy, transform, width, height, split_row)
        if i and ax.get_legend():
            ax.get_legend().remove()
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=10)
    fig.colorbar(im, ax=fig.axes, fraction=0.02, pad=0.02).set_label(label)
    if title:
        fig.suptitle(title)
    return _save(fig, out_path)


def spread_maps_figure(maps, out_path, *, sites_xy=(), ncols=None,
                       title="Spread of the cross-validation models"):
    """Spread (uncertainty) maps side by side on one fixed 0..``SPREAD_MAX`` (0.5)
    scale, the most a population std of probabilities can be, so that methods
    compare by colour (QGIS gets the same range from pipeline.qgis_style).

    ``maps``: {name: GeoTIFF path} (band 1: std across fold models); every known
    site is drawn (each was held out by one fold).
    """
    return probability_maps_figure(maps, out_path, sites_xy=sites_xy, split_row=None, ncols=ncols, title=title,
                                   cmap=SPREAD_CMAP, vmax=SPREAD_MAX, label="std of the probability across fold models")


def window_predictions_figure(windows, out_path, *, grid, window, stride, sites_xy=(), split_row=None,
                              title=None):
    """Per-window predictions on the tile grid (the paper's Fig. 7 view).

    ``windows``: table with row, col, split, label, probability and (optional)
    vote, e.g. maps/skt_windows.gpkg. Each window is drawn as its central
    ``stride`` x ``stride`` cells so overlapping windows do not hide each
    other; black outline = window with mines, red cross = vote disagrees with
    the label. ``grid``: the tiles' GridSpec.
    """
    frame = pd.DataFrame(windows).drop(columns="geometry", errors="ignore")
    missing = [c for c in ("row", "col", "split", "label", "probability") if c not in frame.columns]
    if missing:
        raise InputError(f"window predictions lack columns {missing}", column=missing[0])
    frame = frame[frame["split"].astype(str) != "skipped"]
    t = grid.transform
    core = min(int(stride), int(window))
    offset = (int(window) - core) / 2.0
    fig = Figure(figsize=(7.5, 6.5 * grid.height / max(grid.width, 1) + 0.8))
    ax = fig.add_subplot(1, 1, 1)
    norm = Normalize(0.0, 1.0)
    cmap = _cmap(PROBABILITY_CMAP)
    wrong_xy = []
    for r, c, label, p, vote in zip(frame["row"], frame["col"], frame["label"], frame["probability"],
                                    frame["vote"] if "vote" in frame.columns else [None] * len(frame)):
        x0 = t.c + (float(c) + offset) * t.a
        y0 = t.f + (float(r) + offset + core) * t.e
        face = cmap(norm(float(p))) if pd.notna(p) else (0.85, 0.85, 0.85, 1.0)
        edge = "black" if int(label) == 1 else "none"
        ax.add_patch(Rectangle((x0, y0), core * t.a, -core * t.e, facecolor=face, edgecolor=edge,
                               linewidth=1.2 if int(label) == 1 else 0))
        if vote is not None and pd.notna(vote) and int(vote) != int(label):
            wrong_xy.append((x0 + core * t.a / 2, y0 - core * t.e / 2))
    if wrong_xy:
        wx, wy = np.asarray(wrong_xy).T
        ax.scatter(wx, wy, marker="x", c="red", s=30, linewidths=1.4, zorder=4,
                   label=f"vote \u2260 label ({len(wrong_xy)})")
    ax.add_patch(Rectangle((0, 0), 0, 0, facecolor="none", edgecolor="black", label="window with mines"))
    sm = _scalar_mappable(cmap, norm)
    fig.colorbar(sm, ax=ax, fraction=0.046, pad=0.03).set_label("window probability")
    _draw_sites_and_boundary(ax, sites_xy, t, grid.width, grid.height, split_row)
    left, right, bottom, top = _extent(t, grid.width, grid.height)
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
    ax.set_title(title or "Window predictions")
    fig.tight_layout()
    return _save(fig, out_path)


def _cmap(name):
    from matplotlib import colormaps

    return colormaps[name]


def _scalar_mappable(cmap, norm):
    from matplotlib.cm import ScalarMappable

    sm = ScalarMappable(norm=norm, cmap=cmap)
    sm.set_array([])
    return sm


def confusion_matrix_figure(matrices, out_path, *, class_names=("without mines", "with mines"), title=None):
    """Confusion matrices (paper Fig. 5), one panel each.

    ``matrices``: {name: 2 x 2 counts}, rows true class, columns predicted
    (sklearn's layout: [[TN, FP], [FN, TP]]). Cells show the count and the
    share of its true class.
    """
    items = [(name, np.asarray(m, dtype=float)) for name, m in dict(matrices).items()]
    if not items:
        raise InputError("no confusion matrix to plot")
    for name, m in items:
        if m.shape != (2, 2):
            raise InputError(f"confusion matrix {name!r} must be 2 x 2, got shape {m.shape}")
    nrows, ncols = _panel_grid(len(items), min(4, len(items)))
    fig = Figure(figsize=(3.3 * ncols, 3.1 * nrows + (0.4 if title else 0)))
    for i, (name, m) in enumerate(items):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        row_sum = m.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(row_sum > 0, m / row_sum, np.nan)
        ax.imshow(np.nan_to_num(share), cmap="Blues", vmin=0, vmax=1)
        names = (("TN", "FP"), ("FN", "TP"))
        for r in range(2):
            for c in range(2):
                text = f"{names[r][c]}\n{int(m[r, c])}"
                if np.isfinite(share[r, c]):
                    text += f"\n({share[r, c]:.0%})"
                ax.text(c, r, text, ha="center", va="center", fontsize=9,
                        color="white" if np.nan_to_num(share[r, c]) > 0.6 else "black")
        ax.set_xticks([0, 1], [f"pred. {n}" for n in class_names], fontsize=7)
        ax.set_yticks([0, 1], [f"true {n}" for n in class_names], fontsize=7, rotation=90, va="center")
        ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_path)


def roc_points(labels, scores):
    """ROC curve (false positive rate, true positive rate, AUC, n); ties form
    one diagonal step; pairs with NaN are left out. None when ``labels`` do not
    hold both classes."""
    y = np.asarray(labels, dtype=float).reshape(-1)
    s = np.asarray(scores, dtype=float).reshape(-1)
    keep = np.isfinite(y) & np.isfinite(s)
    y, s = y[keep], s[keep]
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # end of each tie group
    tps = np.cumsum(y == 1)[last]
    fps = np.cumsum(y == 0)[last]
    tpr = np.r_[0.0, tps / n_pos]
    fpr = np.r_[0.0, fps / n_neg]
    return fpr, tpr, float(np.trapezoid(tpr, fpr)), int(y.size)


def roc_figure(scores, out_path, *, title="ROC on the test windows"):
    """ROC curves of several methods on the same windows.

    ``scores``: {method: (labels, probabilities)}. A method whose labels hold
    one class only is listed as undefined instead of drawn.
    """
    fig = Figure(figsize=(5.6, 5.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="chance")
    undefined = []
    for name, (labels, probs) in dict(scores).items():
        points = roc_points(labels, probs)
        if points is None:
            undefined.append(name)
            continue
        fpr, tpr, auc, n = points
        ax.plot(fpr, tpr, linewidth=1.8 if name.lower().startswith("skt") else 1.2,
                label=f"{name} (AUC {auc:.3f}, n={n})")
    if undefined:
        ax.text(0.98, 0.02, "undefined (one class only): " + ", ".join(undefined), ha="right", va="bottom",
                fontsize=7, transform=ax.transAxes)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (recall)")
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=7, bbox_to_anchor=(1.0, 0.06 if undefined else 0.0))
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out_path)


def success_rate_figure(curves, out_path, *, title="Success-rate curves"):
    """Share of sites captured against share of area, highest values first.

    ``curves``: {name: {"area_fraction", "captured_fraction", optional "auc"}}.
    """
    fig = Figure(figsize=(5.6, 5.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="random map")
    for name, curve in dict(curves).items():
        area = np.asarray(curve["area_fraction"], dtype=float)
        captured = np.asarray(curve["captured_fraction"], dtype=float)
        auc = curve.get("auc")
        label = name if auc is None or not np.isfinite(auc) else f"{name} (AUC {auc:.3f})"
        ax.plot(100 * area, 100 * captured, linewidth=1.8 if name.lower().startswith("skt") else 1.2, label=label)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 101)
    ax.set_xlabel("area, ranked from most prospective (%)")
    ax.set_ylabel("known sites captured (%)")
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out_path)


def prediction_area_figure(curves, out_path, *, title="Prediction-area plots", ncols=None):
    """Prediction-area (P-A) plots, one panel per map (Yousefi and Carranza 2015).

    ``curves``: {name: {"thresholds", "pct_sites", "pct_area", optional
    "threshold" and "prediction_rate" (the intersection)}}. The occupied-area
    curve is drawn on the reversed right axis, so the curves cross where
    prediction rate = 100 - occupied area.
    """
    items = list(dict(curves).items())
    if not items:
        raise InputError("no prediction-area curves to plot")
    nrows, ncols = _panel_grid(len(items), ncols or min(3, len(items)))
    fig = Figure(figsize=(4.4 * ncols, 3.6 * nrows + (0.4 if title else 0)))
    for i, (name, pa) in enumerate(items):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        x = np.asarray(pa["thresholds"], dtype=float)
        ax.plot(x, np.asarray(pa["pct_sites"], dtype=float), color="tab:red", label="prediction rate (sites)")
        ax.plot(x, 100.0 - np.asarray(pa["pct_area"], dtype=float), color="tab:blue", label="occupied area")
        rate, thr = pa.get("prediction_rate"), pa.get("threshold")
        if rate is not None and thr is not None and np.isfinite(rate) and np.isfinite(thr):
            ax.plot([thr], [rate], "ko", markersize=5)
            right_half = thr > (np.nanmin(x) + np.nanmax(x)) / 2 if x.size else False
            ax.annotate(f"{rate:.0f}% of sites\nin {100 - rate:.0f}% of area", (thr, rate), fontsize=7,
                        xytext=(-6 if right_half else 6, -18 if rate > 30 else 10), textcoords="offset points",
                        ha="right" if right_half else "left")
        ax.set_ylim(0, 100)
        ax.set_xlabel("prospectivity threshold")
        ax.set_ylabel("sites predicted (%)", color="tab:red")
        right = ax.secondary_yaxis("right", functions=(lambda v: 100.0 - v, lambda v: 100.0 - v))
        right.set_ylabel("area occupied (%)", color="tab:blue")
        ax.set_title(name, fontsize=10)
        if i == 0:
            ax.legend(loc="center left", fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_path)


def _log_table(log):
    return log if isinstance(log, pd.DataFrame) else pd.read_csv(log)


def training_curves_figure(logs, out_path, *, title="Training"):
    """Loss, test-window metrics and learning rate per epoch.

    ``logs``: {name: DataFrame or path of a training log CSV} with an
    ``epoch`` column, ``loss_total``, ``lr`` and ``test_vote_{metric}``
    columns (models/skt_log.csv, models/source_log.csv).
    """
    tables = {name: _log_table(log) for name, log in dict(logs).items()}
    if not tables:
        raise InputError("no training log to plot")
    for name, t in tables.items():
        if "epoch" not in t.columns:
            raise InputError(f"training log {name!r} has no 'epoch' column", column="epoch")
    fig = Figure(figsize=(13, 3.8))
    ax_loss, ax_metric, ax_lr = (fig.add_subplot(1, 3, k) for k in (1, 2, 3))
    styles = ("-", "--", "-.", ":")
    for i, (name, t) in enumerate(tables.items()):
        style = styles[i % len(styles)]
        if "loss_total" in t.columns:
            ax_loss.plot(t["epoch"], t["loss_total"], style, label=name)
        for metric, colour in (("accuracy", "tab:blue"), ("f1", "tab:orange"), ("recall", "tab:green"),
                               ("roc_auc", "tab:red")):
            col = f"test_vote_{metric}"
            if col in t.columns:
                ax_metric.plot(t["epoch"], t[col], style, color=colour, label=f"{name} {metric}")
        if "lr" in t.columns:
            ax_lr.plot(t["epoch"], t["lr"], style, label=name)
    ax_loss.set_title("training loss")
    ax_metric.set_title("test windows (vote)")
    ax_metric.set_ylim(-0.02, 1.02)
    ax_lr.set_title("learning rate")
    for ax in (ax_loss, ax_metric, ax_lr):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (ax_loss, ax_lr):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if ax_metric.get_legend_handles_labels()[0]:
        # below the panel: the metric lines fill the whole 0..1 range
        ax_metric.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_path)


BETA_METRICS = ("f1", "accuracy", "recall", "roc_auc")


def beta_curve_figure(table, out_path, *, x="beta", metrics=BETA_METRICS,
                      title="Self-distillation coefficient \u03b2"):
    """Metrics against the self-distillation weight beta (paper Fig. 6).

    ``table``: DataFrame or CSV path with column ``x`` and, per metric, either
    ``{metric}`` or ``{metric}_mean`` (with ``{metric}_std`` drawn as error
    bars, as written by evaluation.metrics.aggregate_seeds).
    """
    t = _log_table(table)
    if x not in t.columns:
        raise InputError(f"the beta table has no {x!r} column", column=x)
    t = t.sort_values(x)
    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    drawn = 0
    for metric in metrics:
        col = metric if metric in t.columns else f"{metric}_mean" if f"{metric}_mean" in t.columns else None
        if col is None:
            continue
        y = pd.to_numeric(t[col], errors="coerce")
        std = pd.to_numeric(t[f"{metric}_std"], errors="coerce") if f"{metric}_std" in t.columns else None
        if std is not None and std.notna().any():
            ax.errorbar(t[x], y, yerr=std.fillna(0), marker="o", capsize=3, label=metric)
        else:
            ax.plot(t[x], y, marker="o", label=metric)
        drawn += 1
    if not drawn:
        raise InputError(f"the beta table has none of the metric columns {list(metrics)}")
    ax.set_xlabel("\u03b2")
    ax.set_ylabel("test metric")
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out_path)
