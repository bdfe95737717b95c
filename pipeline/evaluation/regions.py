"""Methods compared across regions: one table from every dataset's comparison.csv
and map_evaluation.csv.

Each region's own tables stay the reference; this one lines the methods up side
by side so that a user running several surveys sees whether a method's standing
holds from one region to the next. Long CSV: one row per (region, method) with
the window metrics (mean and std over seeds) and, for dense maps, the map-level
scores on test-part sites. Markdown: a methods x regions grid per headline metric
with each method's mean rank across regions (1 = best in a region; ties share the
mean rank; regions where a method has no value do not count for it).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

#: window metrics carried from comparison.csv (mean and std columns)
WINDOW_METRICS = ("accuracy", "f1", "roc_auc", "average_precision", "mcc")
#: map-level metrics carried from map_evaluation.csv (test-part sites)
MAP_METRICS = ("success_rate_auc", "capture_at_10pct_area", "site_vs_background_auc")
#: the grids printed in the Markdown: (column, heading, digits)
HEADLINES = (("roc_auc_mean", "Window ROC AUC (test split)", 3),
             ("mcc_mean", "Window MCC (test split)", 3),
             ("success_rate_auc", "Success-rate AUC of the map (test-part sites)", 3))


def _read_csv(path, required, what):
    path = Path(path)
    if not path.exists():
        raise InputError(f"missing {what}", path=path)
    table = pd.read_csv(path)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputError(f"{what} lacks columns {missing}", path=path)
    return table


def regions_table(comparisons, maps=None):
    """Long table over regions. ``comparisons``: {region: comparison.csv path or
    DataFrame}; ``maps``: {region: map_evaluation.csv path or DataFrame} (optional
    per region). Method order: first appearance across regions."""
    rows = []
    for region, comparison in comparisons.items():
        if not isinstance(comparison, pd.DataFrame):
            comparison = _read_csv(comparison, ("method", "Methods", "n_seeds"), "comparison table")
        scores = {}
        map_source = (maps or {}).get(region)
        if map_source is not None:
            table = map_source if isinstance(map_source, pd.DataFrame) else _read_csv(
                map_source, ("map", "scope"), "map evaluation table")
            test = table[table["scope"] == "test_sites"]
            scores = {str(r["map"]): r for _, r in test.iterrows()}
        for _, row in comparison.iterrows():
            method = str(row["method"])
            out = {"region": region, "method": method, "Methods": row["Methods"],
                   "family": row.get("family", ""), "n_seeds": int(row["n_seeds"])}
            for metric in WINDOW_METRICS:
                out[f"{metric}_mean"] = row.get(f"{metric}_mean", np.nan)
                out[f"{metric}_std"] = row.get(f"{metric}_std", np.nan)
            m = scores.get(method)
            for metric in MAP_METRICS:
                out[metric] = np.nan if m is None else m.get(metric, np.nan)
            rows.append(out)
    table = pd.DataFrame(rows)
    if not len(table):
        raise InputError("no comparison rows in any region")
    return table


def mean_ranks(table, column):
    """{method: mean rank over the regions where it has a value} (1 = highest value)."""
    ranks = table.dropna(subset=[column]).copy()
    if not len(ranks):
        return {}
    ranks["rank"] = ranks.groupby("region")[column].rank(ascending=False, method="average")
    return ranks.groupby("method")["rank"].mean().to_dict()


def regions_markdown(table):
    regions = list(dict.fromkeys(table["region"]))
    methods = list(dict.fromkeys(table["method"]))
    labels = dict(zip(table["method"], table["Methods"]))
    parts = ["# Methods across regions", "",
             f"Regions: {', '.join(regions)}. Each region's own comparison.md holds every column and the "
             "caveats; window metrics are means over that region's seeds. Mean rank: 1 = best in every "
             "region; ties share their mean rank; a method missing from a region (n/a) is ranked on the "
             "others only. Regions differ in size, site count and label noise, so compare ranks, not "
             "raw values, across columns.", ""]
    for column, heading, digits in HEADLINES:
        if column not in table.columns or table[column].isna().all():
            continue
        ranks = mean_ranks(table, column)
        header = ["Method"] + regions + ["Mean rank"]
        lines = [f"## {heading}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for method in methods:
            cells = [str(labels[method])]
            for region in regions:
                value = table.loc[(table["region"] == region) & (table["method"] == method), column]
                v = float(value.iloc[0]) if len(value) else np.nan
                cells.append("n/a" if not np.isfinite(v) else f"{v:.{digits}f}")
            rank = ranks.get(method)
            cells.append("n/a" if rank is None else f"{rank:.1f}")
            lines.append("| " + " | ".join(cells) + " |")
        parts += lines + [""]
    return "\n".join(parts)
