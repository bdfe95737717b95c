"""Tables and curves the report shows, from the workflow's tables as written:
the compact metric tables, the QA summaries, SKT's per-network metrics and
confusion matrices, and the map-level curves of tables/map_evaluation.json.
Nothing here recomputes a result."""

from pathlib import Path

import numpy as np
import pandas as pd

from . import html as h
from .inputs import read_csv

#: Metrics shown in the compact tables (the full CSV sits in a fold below).
SUMMARY_METRICS = ("accuracy", "recall", "f1", "roc_auc", "average_precision", "mcc",
                   "paper_accuracy", "paper_recall", "paper_f1")
#: Columns that name a row in the evaluation tables, in display order.
NAME_COLUMNS = ("Methods", "Target Network", "beta", "family", "form", "switched_off", "n_seeds")


# ----------------------------------------------------------------- map curves

_SCOPES = {"test_sites": "test", "test": "test", "all_sites": "all", "all": "all"}


def map_curve_entries(evaluation):
    """(map label, scope, result) for every result holding ``curves`` in a
    map-evaluation JSON: {"maps": {name: {"label", "test_sites", "all_sites"}}}
    as tables/map_evaluation.json, or any nesting of such results (the scope
    is the key test_sites/test or all_sites/all; else "map")."""
    out = []

    def walk(obj, trail, label):
        if not isinstance(obj, dict):
            return
        if isinstance(obj.get("curves"), dict):
            scope = next((_SCOPES[k] for k in reversed(trail) if k in _SCOPES), "map")
            names = [k for k in trail if k not in _SCOPES and k != "maps"]
            out.append((label or (" ".join(names) or "map"), scope, obj))
            return
        for key, value in obj.items():
            sub_label = label
            if isinstance(value, dict) and "label" in value and isinstance(value["label"], str):
                sub_label = value["label"]
            walk(value, trail + [str(key)], sub_label)

    walk(evaluation, [], None)
    return out


def _float_array(values):
    return np.asarray([np.nan if v is None else v for v in values], dtype=float)


def success_rate_curves(entries, scope):
    curves = {}
    for label, s, result in entries:
        sr = result["curves"].get("success_rate")
        if s == scope and sr:
            curves[label] = {"area_fraction": _float_array(sr["area_fraction"]),
                             "captured_fraction": _float_array(sr["captured_fraction"]),
                             "auc": _none_nan(result.get("success_rate_auc"))}
    return curves


def prediction_area_curves(entries, scope):
    curves = {}
    for label, s, result in entries:
        pa = result["curves"].get("prediction_area")
        if s == scope and pa:
            curves[label] = {k: _float_array(pa[k]) for k in ("thresholds", "pct_sites", "pct_area")}
            curves[label].update(threshold=_none_nan(result.get("pa_threshold")),
                                 prediction_rate=_none_nan(result.get("pa_prediction_rate")))
    return curves


def _none_nan(v):
    return float("nan") if v is None else float(v)


def map_scalar_table(entries):
    rows = []
    for label, scope, result in entries:
        row = {"map": label, "scope": scope}
        row.update({k: v for k, v in result.items() if not isinstance(v, (dict, list, str))})
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------- tables

def compact_metrics(frame, metrics=SUMMARY_METRICS):
    """Name columns plus "mean ± std" (or the mean alone) of the main metrics,
    from a table with {metric}_mean / {metric}_std columns; None when it has none."""
    if not any(f"{m}_mean" in frame.columns for m in metrics):
        return None
    names = [c for c in NAME_COLUMNS if c in frame.columns] or [frame.columns[0]]
    out = frame[names].copy()
    for m in metrics:
        if f"{m}_mean" not in frame.columns:
            continue
        mean = pd.to_numeric(frame[f"{m}_mean"], errors="coerce")
        std = pd.to_numeric(frame.get(f"{m}_std"), errors="coerce") if f"{m}_std" in frame.columns else None
        out[m] = [("n/a" if not np.isfinite(a) else f"{a:.3f}" if std is None or not np.isfinite(s)
                   else f"{a:.3f} ± {s:.3f}") for a, s in zip(mean, std if std is not None else [np.nan] * len(mean))]
    return out


def table_section(path, caption):
    """Compact view of a metrics CSV with the full table folded below."""
    frame = read_csv(path)
    compact = compact_metrics(frame)
    body = h.paragraph(caption)
    if compact is not None:
        body += h.table(compact)
        body += h.details(f"All columns of {Path(path).name}", h.table(frame))
    else:
        body += h.table(frame)
    return body


def qa_tables(qa):
    """Readable summaries of prepare/qa.json: rows per file and values per element."""
    parts = []
    for part in ("samples", "sites"):
        q = qa.get(part)
        if not isinstance(q, dict):
            continue
        rejected = q.get("rows_rejected", {}) or {}
        merged = q.get("locations_merged", {}) or {}
        pairs = [("file", q.get("file")), ("rows read", q.get("rows_read")), ("rows kept", q.get("rows_kept")),
                 ("rows rejected", rejected.get("count")),
                 ("rows merged into repeated locations", merged.get("rows_merged_away")),
                 ("locations written", merged.get("locations_written", merged.get("locations"))),
                 ("CRS in \u2192 out", f"{q.get('crs_in')} \u2192 {q.get('crs_out')}")]
        parts.append((f"{part}: rows", h.key_values([(k, v) for k, v in pairs if v is not None])))
        reasons = rejected.get("by_reason") or {}
        if reasons:
            parts.append((f"{part}: rejected rows by reason",
                          h.table(pd.DataFrame({"reason": list(reasons), "rows": list(reasons.values())}))))
        if rejected.get("rows"):
            parts.append((f"{part}: rejected rows", h.table(pd.DataFrame(rejected["rows"]))))
    samples = qa.get("samples") or {}
    kept = samples.get("elements_kept") or {}
    dropped = samples.get("elements_dropped") or {}
    if kept or dropped:
        missing = samples.get("values_missing") or {}
        below = (samples.get("values_below_detection") or {}).get("counts") or {}
        above = samples.get("values_above_detection") or {}
        text = samples.get("values_text_to_missing") or {}
        rows = []
        for name in list(kept) + [d for d in dropped if d not in kept]:
            entry = kept.get(name) or {}
            rows.append({"element": name, "unit": entry.get("unit", (samples.get("units") or {}).get(name, "")),
                         "valid locations": entry.get("valid_locations"),
                         "missing": _count(missing.get(name), "total"),
                         "below detection (replaced)": _count(below.get(name), "count"),
                         "above detection": _count(above.get(name), "count"),
                         "text \u2192 missing": _count(text.get(name), "count"),
                         "dropped": "" if name in kept else str(dropped.get(name, "dropped"))})
        parts.append(("samples: values per element", h.table(pd.DataFrame(rows))))
    return parts


def _count(entry, key):
    if isinstance(entry, dict):
        return entry.get(key, 0)
    return entry if isinstance(entry, (int, float)) else 0


#: skt_metrics.json keys and their column labels ("f1" is the paper's macro F1, as in the tables)
SKT_METRIC_COLUMNS = (("n", "n"), ("n_with_mines", "n with mines"), ("accuracy", "accuracy"),
                      ("recall", "recall"), ("precision", "precision"), ("f1", "F1 (macro, paper)"),
                      ("f1_mines", "F1 (with mines)"), ("roc_auc", "ROC AUC"))


def skt_metrics_table(metrics):
    """Per target network and the vote: primary (honest) and paper-protocol metrics."""
    rows = []
    for protocol in ("primary", "paper_protocol"):
        section = metrics.get(protocol) or {}
        for name, m in section.items():
            if isinstance(m, dict) and "accuracy" in m:
                row = {"protocol": protocol, "network": name}
                row.update({label: m.get(k) for k, label in SKT_METRIC_COLUMNS})
                rows.append(row)
    return pd.DataFrame(rows)


def confusion_matrices(metrics):
    """{panel title: 2 x 2} from skt_metrics.json: each network and the vote on the
    honest test split, and the vote under the paper's noise-balanced protocol."""
    out = {}
    for name, m in (metrics.get("primary") or {}).items():
        if isinstance(m, dict) and "confusion" in m:
            out[name] = m["confusion"]
    paper = (metrics.get("paper_protocol") or {}).get("vote")
    if isinstance(paper, dict) and "confusion" in paper:
        out["vote (paper protocol)"] = paper["confusion"]
    return out

