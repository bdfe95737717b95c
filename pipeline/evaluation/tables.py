"""Comparison tables (paper Tables 3-5, Figure 6) from per-run metrics files.

Every method, seed and SKT variant writes one *run record* (``run_record``):
the window metrics of ``metrics.classification_metrics`` on the spatial test
split without noise copies (``primary``), optionally the same on the paper's
noise-balanced test set (``paper_protocol``), and for SKT one entry per target
network and the vote (``per_network``). The functions here read such records
and aggregate them over seeds (mean and sample std, ``metrics.aggregate_seeds``).

CSV tables hold fractions (0-1) in ``{metric}_mean`` / ``{metric}_std``
columns; the Markdown table prints percentages as the paper does, as
"mean ± std" when there is more than one seed.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..methods import ABLATIONS, REGISTRY, TRAINED_KINDS
from ..methods import names as method_names
from .metrics import aggregate_seeds, classification_metrics
from ..records import read_json

#: Metrics carried into the tables, in column order. ``f1`` is the paper's (macro) F1.
TABLE_METRICS = ("accuracy", "recall", "f1", "f1_weighted", "f1_mines", "precision", "specificity",
                 "balanced_accuracy", "roc_auc", "average_precision", "mcc")
COUNT_METRICS = ("tn", "fp", "fn", "tp", "n", "n_pos")
PAPER_METRICS = ("accuracy", "recall", "f1", "roc_auc")
#: every trained method's label, from the registry (pipeline.methods)
METHOD_LABELS = {name: REGISTRY[name].label for name in method_names(*TRAINED_KINDS)}
STUDIES = ("ablation", "beta_sweep")


# ------------------------------------------------------------------ records

def json_safe(value):
    """JSON-safe: NaN and infinities become None (and back to NaN on reading)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def metrics_record(y_true, prob=None, *, y_pred=None, threshold=0.5):
    """``classification_metrics`` plus the confusion matrix [[tn, fp], [fn, tp]], JSON-safe."""
    m = classification_metrics(y_true, prob, threshold=threshold, y_pred=y_pred)
    m["confusion"] = [[m["tn"], m["fp"]], [m["fn"], m["tp"]]]
    return json_safe(m)


def run_record(method, seed, primary, paper_protocol=None, **extra):
    """One method at one seed: what every baseline and SKT evaluation writes."""
    out = {"method": str(method), "seed": int(seed),
           "primary_description": "spatial test split, original windows only (no noise copies)",
           "primary": primary,
           "paper_protocol_description": "test split balanced with Gaussian-noise copies of the smaller "
                                         "class (paper section 2.2); copies are not independent samples",
           "paper_protocol": paper_protocol}
    out.update(extra)
    return json_safe(out)


def read_record(path):
    path = Path(path)
    record = read_json(path)
    if not isinstance(record, dict) or "primary" not in record:
        raise InputError("not a run record: no 'primary' metrics", path=path)
    return record


def _numeric(metrics):
    return {k: (float("nan") if v is None else float(v)) for k, v in (metrics or {}).items()
            if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))}


def summarise(metric_dicts, keys=TABLE_METRICS + COUNT_METRICS, prefix=""):
    """Mean and std over seeds of ``keys`` from a list of metric dicts (None = NaN)."""
    dicts = [_numeric(m) for m in metric_dicts if m]
    out = {}
    if not dicts:
        for key in keys:
            out[f"{prefix}{key}_mean"] = float("nan")
            out[f"{prefix}{key}_std"] = float("nan")
        return out
    full = [{k: d.get(k, float("nan")) for k in keys} for d in dicts]
    agg = aggregate_seeds(full)
    for key in keys:
        out[f"{prefix}{key}_mean"] = agg[f"{key}_mean"]
        out[f"{prefix}{key}_std"] = agg[f"{key}_std"]
    return out


def _rows(groups, label_of, extra_columns=None):
    rows = []
    for key, records in groups.items():
        records = list(records)
        if not records:
            continue
        row = {"key": key, "label": label_of(key), "n_seeds": len(records),
               "seeds": " ".join(str(r.get("seed")) for r in records)}
        row.update(extra_columns(key, records) if extra_columns else {})
        row.update(summarise([r["primary"] for r in records]))
        papers = [r.get("paper_protocol") for r in records]
        row.update(summarise(papers, PAPER_METRICS, prefix="paper_"))
        rows.append(row)
    return rows


# ------------------------------------------------------------------ tables

def comparison_table(groups, families=None):
    """Paper Table 3: one row per method. ``groups``: {method: [run records]} in
    display order; ``families``: {method: family} (classical window or pixel, CNN, SKT)."""
    families = families or {}
    rows = _rows(groups, lambda k: METHOD_LABELS.get(k, k),
                 lambda k, rs: {"family": families.get(k, ""), "form": rs[0].get("form", "")})
    return pd.DataFrame(rows).rename(columns={"key": "method", "label": "Methods"})


def per_network_table(skt_records):
    """Paper Table 4: each target network and the vote, from SKT run records
    (one per seed) that hold ``per_network``."""
    if not skt_records:
        raise InputError("no SKT run records for the per-network table")
    names = list(skt_records[0].get("per_network", {}).get("primary", {}))
    if not names:
        raise InputError("the SKT run record has no per-network metrics")
    groups, dilations = {}, dict(zip(skt_records[0].get("targets", []), skt_records[0].get("dilations", [])))
    for name in names:
        groups[name] = [{"seed": r["seed"], "primary": r["per_network"]["primary"].get(name),
                         "paper_protocol": (r["per_network"].get("paper_protocol") or {}).get(name)}
                        for r in skt_records]

    def label(name):
        if name == "vote":
            return "Voting"
        rho = dilations.get(name)
        return f"rho = {rho} ({name})" if rho is not None else name

    return pd.DataFrame(_rows(groups, label, lambda k, rs: {"dilation": dilations.get(k)})).rename(
        columns={"key": "network", "label": "Target Network"})


def ablation_table(groups):
    """Paper Table 5: ``groups`` {variant: [run records]} with "skt" for the full model."""
    def label(key):
        return "Ours (full SKT)" if key == "skt" else ABLATIONS.get(key, (key,))[0]

    def extra(key, _):
        return {"switched_off": ", ".join(f"{k}={v}" for k, v in ABLATIONS.get(key, ("", {}))[1].items())}

    return pd.DataFrame(_rows(groups, label, extra)).rename(columns={"key": "variant", "label": "Methods"})


def beta_sweep_table(groups):
    """Paper Figure 6: ``groups`` {beta (float): [run records]}, sorted by beta."""
    ordered = {b: groups[b] for b in sorted(groups)}
    table = pd.DataFrame(_rows(ordered, lambda b: f"beta = {b:g}"))
    return table.rename(columns={"key": "beta", "label": "label"})


MAP_SCALARS = ("success_rate_auc", "capture_at_5pct_area", "capture_at_10pct_area", "capture_at_20pct_area",
               "pa_prediction_rate", "pa_occupied_area", "pa_normalized_density", "pa_threshold",
               "site_vs_background_auc", "n_sites_used", "n_sites_selected", "n_background",
               "background_min_distance", "n_cells")


def map_table(results):
    """Flat table of map-level results: ``results`` {map: {"label", scope: evaluate_map output}}."""
    rows = []
    for name, entry in results.items():
        for scope in ("test_sites", "all_sites"):
            if scope not in entry:
                continue
            res = entry[scope]
            row = {"map": name, "label": entry.get("label", METHOD_LABELS.get(name, name)), "scope": scope}
            row.update({k: res.get(k) for k in res if k != "curves" and not isinstance(res.get(k), (dict, list))})
            rows.append(row)
    table = pd.DataFrame(rows)
    first = ["map", "label", "scope"] + [c for c in MAP_SCALARS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]] if len(table) else table


# ------------------------------------------------------------------ Markdown

def _pct(mean, std, n):
    if mean is None or not np.isfinite(mean):
        return "n/a"
    text = f"{100 * mean:.2f}"
    if n > 1 and std is not None and np.isfinite(std):
        text += f" ± {100 * std:.2f}"
    return text


def _num(mean, std, n, digits=3):
    if mean is None or not np.isfinite(mean):
        return "n/a"
    text = f"{mean:.{digits}f}"
    if n > 1 and std is not None and np.isfinite(std):
        text += f" ± {std:.{digits}f}"
    return text


MARKDOWN_COLUMNS = (("accuracy", "Accuracy", _pct), ("recall", "Recall", _pct), ("f1", "F1-Score", _pct),
                    ("roc_auc", "ROC AUC", _num), ("average_precision", "AP", _num), ("mcc", "MCC", _num),
                    ("f1_weighted", "F1 (weighted)", _pct), ("f1_mines", "F1 (with mines)", _pct))
PAPER_MARKDOWN_COLUMNS = (("accuracy", "Accuracy*", _pct), ("recall", "Recall*", _pct),
                          ("f1", "F1-Score*", _pct))


def markdown_table(table, name_column="Methods", paper_columns=True):
    """The table in the paper's layout (Methods, Accuracy, Recall, F1-Score) plus the
    honest columns; starred columns are the paper's noise-balanced protocol."""
    cols = [("", *c) for c in MARKDOWN_COLUMNS]
    if paper_columns:
        cols += [("paper_", *c) for c in PAPER_MARKDOWN_COLUMNS]
    header = [name_column] + [c[2] for c in cols] + ["TN/FP/FN/TP", "Seeds"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        n = int(row["n_seeds"])
        cells = [str(row[name_column])]
        for prefix, key, _, fmt in cols:
            cells.append(fmt(row.get(f"{prefix}{key}_mean"), row.get(f"{prefix}{key}_std"), n))
        counts = [row.get(f"{k}_mean") for k in ("tn", "fp", "fn", "tp")]
        cells.append("/".join("n/a" if c is None or not np.isfinite(c) else f"{c:g}" for c in counts))
        cells.append(str(n))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def map_markdown(table):
    """Map-level results as a Markdown table."""
    if table is None or not len(table):
        return ""
    cols = [("success_rate_auc", "Success-rate AUC", 3), ("capture_at_5pct_area", "Sites in top 5 %", 2),
            ("capture_at_10pct_area", "top 10 %", 2), ("capture_at_20pct_area", "top 20 %", 2),
            ("pa_prediction_rate", "P-A intersection (% sites = 100 - % area)", 1),
            ("site_vs_background_auc", "Site vs background AUC", 3), ("n_sites_used", "Sites", 0)]
    header = ["Map", "Sites evaluated"] + [c[1] for c in cols]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        scope = "test part only" if row["scope"] == "test_sites" else "all (incl. training sites)"
        cells = [str(row["label"]), scope]
        for key, _, digits in cols:
            v = row.get(key)
            cells.append("n/a" if v is None or not np.isfinite(float(v)) else f"{float(v):.{digits}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(table, path):
    """CSV with a fixed float format, written atomically."""
    from ..atomic import atomic_path

    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


def _n(table, column):
    values = table[column].dropna() if column in table.columns else []
    return int(values.iloc[0]) if len(values) else None


def comparison_markdown(comparison, per_network=None, maps=None, not_included=None):
    """comparison.md: Table 3 (plus Table 4 and the map-level table when given)."""
    n, n_pos = _n(comparison, "n_mean"), _n(comparison, "n_pos_mean")
    seeds = sorted({s for text in comparison.get("seeds", []) for s in str(text).split()}, key=int)
    parts = [
        "# Comparison with the paper's methods (Table 3)",
        "",
        f"Window classification on the spatial test split: {n} windows, {n_pos} with mines, original windows "
        f"only. Seeds: {', '.join(seeds) or 'n/a'}; values are mean ± sample std over seeds when there is more "
        "than one. Accuracy, Recall (of 'with mines') and F1 in %; F1-Score is the macro F1, the paper's; "
        "F1 (weighted) and F1 (with mines, binary) beside it. Starred columns: the paper's protocol, the test "
        "split balanced with Gaussian-noise copies of the smaller class (copies are not independent, so these "
        "are optimistic); n/a where it does not apply. Per-pixel methods classify a window by its mean pixel "
        "probability at a threshold chosen on the training windows.",
        "",
        markdown_table(comparison),
    ]
    if per_network is not None and len(per_network):
        parts += ["## Target networks and voting (Table 4)", "",
                  markdown_table(per_network, name_column="Target Network")]
    if maps is not None and len(maps):
        parts += ["## Map-level evaluation", "",
                  "Success-rate AUC (1 perfect, 0.5 random), share of sites in the most prospective 5/10/20 % "
                  "of the area, prediction-area intersection, and ROC AUC of the value at sites against "
                  "background cells away from every site. 'test part only' is the honest score.", "",
                  map_markdown(maps)]
    if not_included:
        parts += ["## Not included", ""] + [f"- {name}: {why}" for name, why in not_included.items()] + [""]
    return "\n".join(parts)


def ablation_markdown(table):
    return "\n".join(["# Ablation (Table 5)", "",
                      "Each variant is SKT with one part switched off (same source network, data, schedule "
                      "and seeds). Columns as in comparison.md.", "",
                      markdown_table(table)])
