"""What made a cell stand out, for the learners whose logit decomposes exactly (weights of evidence: the prior
plus each layer's weight; the anchored logistic model: the reference offset plus each band's term).

Each fold's model wrote ``logit_shares.tif``: one band per input, summing to the cell's logit. Over the folds and
seeds the attribution map is the mean share of each input (an input a fold's screening left out contributes 0
there, as it did to that fold's map). At every held-out site the shares come from the fold that held it out, so
the table of top inputs at the sites is as honest as the held-out AUC.
"""

from pathlib import Path

import numpy as np
import rasterio

from ..errors import InputError
from ..rasters import write_geotiff
from ..records import read_json

PREFIX = "logit share: "
#: inputs that are not elements: the part of the logit no element carries
BASE_NAMES = ("prior", "reference (offset + intercept)")


def read_shares(path):
    """{input name: (rows, cols) float64 share with NaN} of one fold's logit_shares.tif, summing to the cell's
    logit: for weights of evidence the prior's logit (in the model.json beside it) is added as 'prior'."""

    with rasterio.open(path) as src:
        data = src.read(masked=True).astype(np.float64).filled(np.nan)
        names = [str(d or "")[len(PREFIX):] if str(d or "").startswith(PREFIX) else str(d) for d in src.descriptions]
    if names and names[0].startswith("none"):
        raise InputError("this learner wrote no logit shares (it does not decompose)", path=path)
    shares = dict(zip(names, data))
    model_path = Path(path).with_name("model.json")
    prior = read_json(model_path).get("model", {}).get("prior") if model_path.exists() else None
    if prior is not None:
        valid = np.isfinite(data[0])
        shares = {"prior": np.where(valid, np.log(prior / (1 - prior)), np.nan), **shares}
    return shares


def mean_shares(folds):
    """(names ordered by mean |share|, bases first; (k, rows, cols) mean share) over the read_shares of every
    fold and seed."""
    if not folds:
        raise InputError("no logit shares to average")
    names = list(dict.fromkeys(n for f in folds for n in f))
    shape = next(iter(folds[0].values())).shape
    total = np.zeros((len(names), *shape))
    counts = np.zeros(shape, int)
    for fold in folds:
        valid = np.isfinite(next(iter(fold.values())))
        counts += valid
        for k, name in enumerate(names):
            total[k] += np.where(valid, np.nan_to_num(fold.get(name, np.zeros(shape))), 0.0)
    mean = np.where(counts[None] > 0, total / np.maximum(counts, 1)[None], np.nan)
    strength = [np.nanmean(np.abs(m)) if np.isfinite(m).any() else 0.0 for m in mean]
    order = sorted(range(len(names)), key=lambda k: (names[k] not in BASE_NAMES, -strength[k]))
    return [names[k] for k in order], mean[order]


def write_attribution_map(folds, grid, out_path, *, method):
    """The mean-share GeoTIFF of the read_shares ``folds`` (band names 'logit share: X'); returns (names, index
    of the strongest element band, its largest absolute mean share)."""
    names, mean = mean_shares(folds)
    write_geotiff(out_path, mean.astype(np.float32), grid, [PREFIX + n for n in names],
                  tags={"method": method, "what": "mean over folds and seeds of each input's share of the logit",
                        "folds_and_seeds": len(folds)})
    elements = [k for k, n in enumerate(names) if n not in BASE_NAMES]
    top = elements[0] if elements else 0
    limit = float(np.nanmax(np.abs(mean[top]))) if np.isfinite(mean[top]).any() else 1.0
    return names, top, limit if limit > 0 else 1.0


def held_out_tops(plan, shares_by_fold, grid, n_top=3):
    """One row per scored site: its fold, cluster and the ``n_top`` inputs with the largest share of its cell's
    logit in the fold that held it out (mean over that fold's seeds), elements only; the base part beside.
    ``shares_by_fold``: {fold: [read_shares of each seed]}."""
    rows = []
    for site in plan["sites"]:
        fold = int(site["fold"])
        if site.get("status") != "scored" or fold not in shares_by_fold:
            continue
        files = shares_by_fold[fold]
        r, c = (int(v) for v in grid.rowcol(site["x"], site["y"]))
        if not (0 <= r < grid.height and 0 <= c < grid.width):
            continue
        names = list(dict.fromkeys(n for f in files for n in f))
        value = {n: float(np.mean([f.get(n, np.zeros(grid.shape))[r, c] for f in files])) for n in names}
        if not all(np.isfinite(v) for v in value.values()):
            continue
        base = sum(v for n, v in value.items() if n in BASE_NAMES)
        ranked = sorted(((v, n) for n, v in value.items() if n not in BASE_NAMES), reverse=True)[:n_top]
        row = {"site": site["name"], "fold": fold, "cluster": site["cluster"], "logit": sum(value.values()),
               "base": base}
        for k in range(n_top):
            row[f"top{k + 1}"] = ranked[k][1] if k < len(ranked) else ""
            row[f"share{k + 1}"] = ranked[k][0] if k < len(ranked) else float("nan")
        rows.append(row)
    return rows


def write_sites_table(rows, path, n_top=3):
    import pandas as pd

    from ..evaluation.tables import write_table

    columns = ["site", "fold", "cluster", "logit", "base"] + [f"{p}{k + 1}" for k in range(n_top)
                                                               for p in ("top", "share")]
    write_table(pd.DataFrame(rows, columns=columns), path)
    return path


def attribution_figure(rows, out_path, *, method, n_show=10):
    """Bar chart: how many held-out sites each element tops, and its mean share there."""
    from matplotlib.figure import Figure

    from ..report.figures import _save

    tops = {}
    for row in rows:
        if row["top1"]:
            tops.setdefault(row["top1"], []).append(row["share1"])
    ranked = sorted(tops.items(), key=lambda kv: (-len(kv[1]), -np.mean(kv[1])))[:n_show]
    fig = Figure(figsize=(6.0, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    if ranked:
        labels = [name for name, _ in ranked]
        ax.bar(labels, [len(v) for _, v in ranked], color="#3b528b")
        for k, (_, shares) in enumerate(ranked):
            ax.annotate(f"{np.mean(shares):+.2f}", (k, len(shares)), ha="center", va="bottom", fontsize=8)
        ax.tick_params(axis="x", labelrotation=45)
    else:
        ax.text(0.5, 0.5, "no scored held-out site", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("held-out sites it tops")
    ax.set_title(f"{method}: the element adding most to the logit at each held-out site\n"
                 "(label: its mean share there, in logit units)", fontsize=9)
    return _save(fig, out_path)
