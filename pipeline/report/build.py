"""The report of one dataset: figures from the workflow's outputs and one
self-contained HTML page that shows them with the tables, QA counts,
screening and run settings.

Every input is optional: a missing one leaves its section with a note, so
the report of a partial run still opens. A present but malformed one raises
InputError naming the file.
"""

import datetime
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..errors import InputError
from ..grid import GridSpec
from . import figures as fig
from . import html as h

log = logging.getLogger("pipeline.report")

#: Metrics shown in the compact tables (the full CSV sits in a fold below).
SUMMARY_METRICS = ("accuracy", "recall", "f1", "roc_auc", "average_precision", "mcc",
                   "paper_accuracy", "paper_recall", "paper_f1")
#: Columns that name a row in the evaluation tables, in display order.
NAME_COLUMNS = ("Methods", "Target Network", "beta", "family", "form", "switched_off", "n_seeds")


@dataclass
class ReportInputs:
    """Paths the report reads; any may be None (or empty) when not produced."""

    rasters: list = field(default_factory=list)
    stack: Path = None
    sites: Path = None
    tiles_meta: Path = None
    tiles_index: Path = None
    probability: Path = None
    windows: Path = None
    skt_metrics: Path = None
    skt_log: Path = None
    source_log: Path = None
    qa: Path = None
    elements: Path = None
    comparison: Path = None
    per_network: Path = None
    ablation: Path = None
    beta_sweep: Path = None
    map_evaluation: Path = None
    cv_summary: Path = None
    dense_maps: dict = field(default_factory=dict)
    #: {method: spread map} of the cross-validation's fold models (maps/{method}_uncertainty.tif)
    uncertainty_maps: dict = field(default_factory=dict)
    #: {method: (figure, table)} of the top elements at the held-out sites (tables/{method}_attribution_sites.*)
    attribution: dict = field(default_factory=dict)

    @classmethod
    def from_results(cls, results_dir):
        """The standard layout under ``results/{dataset}``, keeping only files that exist."""
        d = Path(results_dir)

        def opt(rel):
            p = d / rel
            return p if p.exists() else None

        maps = {p.name[:-len("_probability.tif")]: p for p in sorted((d / "maps").glob("*_probability.tif"))}
        maps.pop("skt", None)
        spreads = {p.name[:-len("_uncertainty.tif")]: p for p in sorted((d / "maps").glob("*_uncertainty.tif"))}
        attribution = {p.name[:-len("_attribution_sites.png")]: (p, p.with_suffix(".csv"))
                       for p in sorted((d / "tables").glob("*_attribution_sites.png")) if p.with_suffix(".csv").exists()}
        return cls(rasters=raster_files(d / "rasters"), stack=opt("stack/zscore.tif"),
                   sites=opt("prepare/sites.gpkg"), tiles_meta=opt("tiles/tiles.json"),
                   tiles_index=opt("tiles/index.gpkg"), probability=opt("maps/skt_probability.tif"),
                   windows=opt("maps/skt_windows.gpkg"), skt_metrics=opt("models/skt_metrics.json"),
                   skt_log=opt("models/skt_log.csv"), source_log=opt("models/source_log.csv"),
                   qa=opt("prepare/qa.json"), elements=opt("screening/elements.csv"),
                   comparison=opt("tables/comparison.csv"), per_network=opt("tables/per_network.csv"),
                   ablation=opt("tables/ablation.csv"), beta_sweep=opt("tables/beta_sweep.csv"),
                   map_evaluation=opt("tables/map_evaluation.json"), cv_summary=opt("tables/cv_summary.csv"),
                   dense_maps=maps, uncertainty_maps=spreads, attribution=attribution)


def raster_files(folder):
    """Element GeoTIFFs of the interpolate stage, in the order of rasters.json when present."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = {p.stem: p for p in sorted(folder.glob("*.tif"))}
    meta = folder / "rasters.json"
    if meta.exists():
        order = read_json(meta).get("elements", [])
        return [files.pop(e) for e in order if e in files] + list(files.values())
    return list(files.values())


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", path=path) from None


def read_csv(path):
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV table: {exc}", path=path) from None


def method_label(name):
    from ..methods import label

    return label(name)


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


def evaluate_maps(maps, sites_xy, split_row):
    """Map-level evaluation of each {label: GeoTIFF}: test part and whole map,
    in the layout of tables/map_evaluation.json. Used when that table is absent."""
    from ..evaluation.maps import evaluate_map, part_mask, sites_in_part
    from ..rasters import read_band

    out = {}
    for label, path in maps.items():
        prob, grid = read_band(path, 1)
        entry = {"label": label}
        if split_row is not None:
            entry["test_sites"] = evaluate_map(prob, grid, sites_xy, sites_in_part(grid, sites_xy, split_row),
                                               area_mask=part_mask(grid, split_row))
        entry["all_sites"] = evaluate_map(prob, grid, sites_xy, None)
        out[label] = entry
    return {"maps": out}


# ----------------------------------------------------------------- window scores

def test_window_scores(inputs, window=None, reduce="mean"):
    """{label: (labels, probabilities)} on the test windows: SKT from its window
    layer, each dense baseline from its map (window score = ``reduce`` of its
    pixels, as the per-pixel baselines are scored in the comparison table)."""
    import geopandas as gpd

    scores = {}
    if inputs.windows:
        w = gpd.read_file(inputs.windows)
        _require(w, ("split", "label", "probability"), inputs.windows)
        test = w[(w["split"] == "test") & w["probability"].notna()]
        scores[method_label("skt")] = (test["label"].to_numpy(int), test["probability"].to_numpy(float))
    if inputs.dense_maps and inputs.tiles_index and window:
        from ..baselines.classical import window_probabilities

        index = pd.DataFrame(gpd.read_file(inputs.tiles_index).drop(columns="geometry"))
        test = (index["split"] == "test").to_numpy()
        for name, path in inputs.dense_maps.items():
            r = reduce if name.endswith("_pixel") else "mean"
            p = window_probabilities(path, index, int(window), r)[test]
            y = index.loc[test, "label"].to_numpy(int)
            ok = np.isfinite(p)
            scores[f"{method_label(name)} (map, window {r})"] = (y[ok], p[ok])
    return scores


def _require(frame, columns, path):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"lacks columns {missing}", path=path, column=missing[0])


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


# ----------------------------------------------------------------- report

def build_report(inputs, out_html, figures_dir, *, dataset, settings=None, window_reduce="mean", title=None):
    """Write the figures into ``figures_dir`` and the self-contained HTML page
    ``out_html``. ``settings``: the dataset's run settings (config view) shown
    on the page. Returns {"figures": [paths], "sections": [headings]}."""
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    out_html = Path(out_html)
    made = []

    def png(name):
        p = figures_dir / f"{name}.png"
        made.append(p)
        return p

    meta = read_json(inputs.tiles_meta) if inputs.tiles_meta else {}
    split_row = meta.get("split_row")
    grid = GridSpec.from_dict(meta["grid"]) if "grid" in meta else None
    sites_xy = np.empty((0, 2))
    if inputs.sites:
        from ..survey_io import read_points

        sites_xy = read_points(inputs.sites).get_coordinates().to_numpy()
    qa = read_json(inputs.qa) if inputs.qa else {}
    metrics = read_json(inputs.skt_metrics) if inputs.skt_metrics else {}
    sections = []

    # --- summary
    pairs = [("dataset", dataset), ("generated", datetime.datetime.now().isoformat(timespec="seconds"))]
    if grid is not None:
        pairs += [("grid", f"{grid.width} x {grid.height} cells of {grid.cell_size[0]:g} m, {grid.crs}"),
                  ("train / test boundary", f"pixel row {split_row}")]
    counts = meta.get("counts") or {}
    for split in ("train", "test", "skipped"):
        if split in counts:
            pairs.append((f"{split} windows", f"{counts[split]['windows']} ({counts[split]['with_mines']} with mines)"))
    if len(sites_xy):
        pairs.append(("known sites", len(sites_xy)))
    vote = (metrics.get("primary") or {}).get("vote") or {}
    for k in ("accuracy", "recall", "f1", "roc_auc"):
        if k in vote:
            pairs.append((f"SKT vote, test windows: {k}", vote[k]))
    summary_body = h.key_values(pairs)
    summary_body += h.paragraph("Window metrics are on the spatial test split (windows below the train/test "
                                "boundary) without noise copies; the paper's noise-balanced protocol is reported "
                                "beside them, labelled, because its copies are not independent samples.")
    sections.append(("summary", "Summary", summary_body))

    # --- maps
    body = ""
    if inputs.probability:
        body += h.figure(fig.prospectivity_map_figure(inputs.probability, png("prospectivity_skt"),
                                                      sites_xy=sites_xy, split_row=split_row,
                                                      title=f"{method_label('skt')}: prospectivity"),
                         "SKT prospectivity (mean \u201cwith mines\u201d probability of the target networks) with the "
                         "known sites; the dashed line is the train/test boundary, sites below it were never "
                         "seen in training (paper Fig. 7).")
    else:
        body += h.note("No SKT probability map (maps/skt_probability.tif).")
    if inputs.windows and grid is not None:
        import geopandas as gpd

        body += h.figure(fig.window_predictions_figure(
            gpd.read_file(inputs.windows), png("windows_skt"), grid=grid, window=meta.get("window"),
            stride=meta.get("stride", meta.get("window")), sites_xy=sites_xy, split_row=split_row,
            title="SKT per window"),
            "Per-window SKT probability on the tile grid (each window drawn as its central stride x stride "
            "cells); black outline = window with mines, red cross = vote disagrees with the label.")
    if inputs.dense_maps:
        maps = {method_label(k): v for k, v in inputs.dense_maps.items()}
        body += h.figure(fig.probability_maps_figure(maps, png("prospectivity_baselines"), sites_xy=sites_xy,
                                                     split_row=split_row),
                         "Dense baseline maps on the same colour scale (0..1).")
    sections.append(("maps", "Prospectivity maps", body))

    # --- cross-validation: the honest estimate, before the paper's single split
    if inputs.cv_summary:
        cv = read_csv(inputs.cv_summary)
        shown = [c for c in ("label", "kind", "tuning", "heldout_auc", "ci_low", "ci_high", "heldout_auc_clusters",
                             "diff_vs_reference_fair", "diff_reference_fair_ci_low", "diff_reference_fair_ci_high",
                             "beats_reference_fair", "beats_reference_fair_clusters", "diff_vs_reference_nested",
                             "beats_reference_nested", "diff_vs_reference_commodity", "beats_reference_commodity",
                             "top10", "near_sampling_density", "n_sites", "n_clusters", "n_folds", "seeds")
                 if c in cv.columns]
        fair = cv["reference_fair_is"].iloc[0] if "reference_fair_is" in cv.columns and len(cv) else ""
        body = h.paragraph(
            "Held-out sites under spatial cross-validation (tables/cv_summary.md states the protocol): each fold "
            "holds out whole clusters of sites and refits everything supervised without them; a site's score is "
            "the share of the sampled area ranked below its cell in the map of its fold (0.5: chance). Intervals "
            "are 95 % cluster-bootstrap intervals: a difference inside them is not a difference. The verdict is "
            "against reference_fair, the stronger of two maps fixed without the held-out sites: the declared "
            "commodity element (reference_commodity) and the element that ranks each fold's training sites "
            f"highest (reference_nested){f'; here {method_label(fair)}' if isinstance(fair, str) and fair else ''}. "
            "oracle_reference, picked on the test sites, is an upper bound, not a verdict. A method near the "
            "sampling-density row may have learnt the survey design.")
        body += h.table(cv[shown], highlight=cv["kind"] == "trained")
        sections.append(("cross-validation", "Held-out sites (spatial cross-validation)", body))

    # --- spread of the cross-validation models
    if inputs.uncertainty_maps:
        spreads = {method_label(k): v for k, v in inputs.uncertainty_maps.items()}
        body = h.figure(fig.spread_maps_figure(spreads, png("uncertainty"), sites_xy=sites_xy),
                        "Per-cell standard deviation of the probability across the models of the cross-validation "
                        f"folds and seeds ({_model_counts(inputs.uncertainty_maps)}), on one scale from 0 to 0.5; "
                        "triangles are the known sites.")
        body += h.paragraph(UNCERTAINTY_NOTE)
        sections.append(("uncertainty", "Where the models disagree (uncertainty maps)", body))

    # --- what drives each cell
    if inputs.attribution:
        body = h.paragraph("For the learners whose logit is an exact sum (weights of evidence: the prior plus each "
                           "layer's weight; the anchored logistic model: the reference plus each band's term), "
                           "maps/{method}_attribution.tif holds each input's mean share of the logit over the folds, "
                           "one band an input (red raises a cell, blue lowers it). At each held-out site the shares "
                           "come from the fold that held it out.")
        for name, (png_path, table_path) in inputs.attribution.items():
            body += h.figure(png_path, f"{method_label(name)}: the element adding most to the logit at each "
                                       "held-out site, and its mean share there.")
            body += h.table(pd.read_csv(table_path), caption=f"{method_label(name)}: top elements at each "
                                                                 "held-out site (tables/"
                                                                 f"{table_path.name})")
        sections.append(("attribution", "What made the held-out sites stand out (attribution)", body))

    # --- comparison
    body = ""
    if inputs.comparison:
        body += table_section(inputs.comparison, "Paper Table 3: each method on the test windows (mean \u00b1 "
                                                 "std over seeds; paper_* = noise-balanced protocol).")
    else:
        body += h.note("No comparison table (tables/comparison.csv).")
    if inputs.per_network:
        body += table_section(inputs.per_network, "Paper Table 4: each SKT target network and the vote.")
    scores = test_window_scores(inputs, meta.get("window"), window_reduce)
    if scores:
        body += h.figure(fig.roc_figure(scores, png("roc_test_windows")),
                         "ROC on the test windows. SKT scores whole windows; dense baselines are scored by the "
                         "mean (per-pixel baselines: the configured reduction) of their map over each window.")
    sections.append(("comparison", "Comparison with the baselines", body))

    # --- map-level evaluation
    body = ""
    evaluation = read_json(inputs.map_evaluation) if inputs.map_evaluation else None
    if evaluation is None and inputs.probability and len(sites_xy):
        maps = {method_label("skt"): inputs.probability}
        maps.update({method_label(k): v for k, v in inputs.dense_maps.items()})
        evaluation = evaluate_maps(maps, sites_xy, split_row)
        body += h.note("tables/map_evaluation.json was not given: the map-level evaluation below was computed "
                       "here with pipeline.evaluation.maps (default settings).")
    entries = map_curve_entries(evaluation) if evaluation else []
    scope_text = {"test": "test-part sites on the test part of the map (honest)",
                  "all": "all sites on the whole map (training sites included: optimistic)", "map": "all maps"}
    for scope in ("test", "all", "map"):
        curves = success_rate_curves(entries, scope)
        if curves:
            body += h.figure(fig.success_rate_figure(curves, png(f"success_rate_{scope}"),
                                                     title=f"Success-rate curves ({scope})"),
                             f"Success-rate curves, {scope_text[scope]}.")
        pa = prediction_area_curves(entries, scope)
        if pa:
            body += h.figure(fig.prediction_area_figure(pa, png(f"prediction_area_{scope}"),
                                                        title=f"Prediction-area plots ({scope})"),
                             f"Prediction-area plots, {scope_text[scope]}; the dot marks where the curves cross.")
    if entries:
        body += h.table(map_scalar_table(entries))
    elif not body:
        body += h.note("No map-level evaluation (no probability map or no sites).")
    sections.append(("map-evaluation", "Map-level evaluation", body))

    # --- SKT model
    body = ""
    matrices = confusion_matrices(metrics)
    if matrices:
        body += h.figure(fig.confusion_matrix_figure(matrices, png("confusion_skt")),
                         "Confusion matrices of each target network and the vote on the test windows "
                         "(paper Fig. 5); rows true class, columns prediction.")
        body += h.table(skt_metrics_table(metrics))
    logs = {}
    if inputs.skt_log:
        logs["SKT"] = inputs.skt_log
    if inputs.source_log:
        logs["source"] = inputs.source_log
    if logs:
        body += h.figure(fig.training_curves_figure(logs, png("training")),
                         "Training loss, test-window metrics of the vote and learning rate per epoch.")
    if metrics.get("soft_mask_values"):
        body += h.paragraph("Learned soft-mask weight per element:")
        body += h.table(pd.DataFrame({"element": list(metrics["soft_mask_values"]),
                                      "weight": list(metrics["soft_mask_values"].values())}))
    if not body:
        body = h.note("No SKT metrics or training logs.")
    sections.append(("skt", "SKT model", body))

    # --- ablation and beta
    body = ""
    if inputs.ablation:
        body += table_section(inputs.ablation, "Paper Table 5: SKT with one part switched off.")
    if inputs.beta_sweep:
        body += h.figure(fig.beta_curve_figure(read_csv(inputs.beta_sweep), png("beta_sweep")),
                         "Test metrics against the self-distillation weight \u03b2 (paper Fig. 6).")
        body += table_section(inputs.beta_sweep, "\u03b2 sweep.")
    if body:
        sections.append(("ablation", "Ablation and \u03b2 sweep", body))

    # --- screening and rasters
    body = ""
    if inputs.elements:
        table = read_csv(inputs.elements)
        body += h.paragraph("Element screening (paper eqs. 1-2); selected elements are shaded.")
        body += h.table(table, highlight=table["selected"].astype(str).str.lower() == "true"
                        if "selected" in table.columns else None)
    raster_source = inputs.rasters or ([inputs.stack] if inputs.stack else [])
    if inputs.rasters and inputs.elements:
        # every element is interpolated; the figure shows the selected ones, as the paper's Fig. 3
        chosen = set(table.loc[table["selected"].astype(str).str.lower() == "true", "element"].astype(str))
        raster_source = [p for p in inputs.rasters if Path(p).stem in chosen] or raster_source
    if raster_source:
        units = (qa.get("samples") or {}).get("units") or {}
        body += h.figure(fig.element_rasters_figure(raster_source, png("elements"),
                                                    units=units if inputs.rasters else None),
                         "Interpolated element rasters (paper Fig. 3), each stretched between its 2nd and 98th "
                         "percentile.")
    sections.append(("screening", "Elements", body or h.note("No screening table or rasters.")))

    # --- QA
    if qa:
        body = "".join(f"<h3>{h.esc(title)}</h3>{html}" for title, html in qa_tables(qa))
        body += h.details("qa.json in full", h.pre(json.dumps(qa, indent=2)))
        sections.append(("qa", "Data preparation (qa.json)", body))

    # --- settings
    if settings:
        sections.append(("settings", "Run settings",
                         h.pre(yaml.safe_dump(_plain(settings), sort_keys=False, allow_unicode=True))))

    # --- files
    sections.append(("files", "Files for QGIS", _file_links(inputs, out_html.parent)))

    h.write_page(out_html, title or f"Prospectivity report: {dataset}", sections,
                 subtitle="SKT (Huang et al. 2022) prospectivity workflow")
    log.info("report: %d figures, %d sections -> %s", len(made), len(sections), out_html)
    return {"figures": made, "sections": [s[1] for s in sections]}


#: How to read the spread maps, shown under their figure.
UNCERTAINTY_NOTE = (
    "How to read these maps: each fold of the cross-validation refits the method without some clusters of "
    "sites, and each seed refits it again; every one of those models maps the whole grid. A cell's value is the "
    "population standard deviation (ddof = 0) of their probabilities there. Dark (near 0): the models agree, so "
    "the probability there does not hinge on which sites or which seed trained the model. Bright: they disagree; "
    "treat the probability there with caution, and expect it to change with more or other sites. The spread is "
    "not a probability of error and not a confidence interval: models can agree and all be wrong, for example "
    "where every fold learnt the same sampling pattern. Values are bounded by 0.5 (half the models at 0, half at "
    "1). Blank cells have fewer than two models with a value (outside the mapped area); band 2 of the GeoTIFF "
    "counts the models at each cell.")


def _model_counts(maps):
    """'n models' (or each method's count when they differ) from the spread maps' tags."""
    import rasterio

    counts = {}
    for name, path in maps.items():
        with rasterio.open(path) as src:
            counts[method_label(name)] = src.tags().get("n_models", "?")
    if len(set(counts.values())) == 1:
        return f"{next(iter(counts.values()))} models"
    return ", ".join(f"{k}: {v} models" for k, v in counts.items())


def _plain(value):
    """Settings as plain YAML types (tuples and numpy scalars appear in config views)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def _file_links(inputs, base):
    import os

    items = []

    def add(path, desc):
        if path:
            items.append((Path(path).name, os.path.relpath(Path(path).resolve(), Path(base).resolve()), desc))
            qml = Path(path).with_suffix(".qml")
            if Path(path).suffix == ".tif" and qml.exists():
                items.append((qml.name, os.path.relpath(qml.resolve(), Path(base).resolve()),
                              "its QGIS style, applied automatically when the map is opened"))

    add(inputs.probability, "SKT prospectivity GeoTIFF (band 1; one band per target network after it)")
    for name, path in inputs.dense_maps.items():
        add(path, f"{method_label(name)} probability GeoTIFF")
    for name, path in inputs.uncertainty_maps.items():
        add(path, f"{method_label(name)} spread across the cross-validation models (band 1: std, band 2: models)")
    add(inputs.windows, "per-window SKT predictions (GeoPackage)")
    add(inputs.sites, "known sites in the working CRS (GeoPackage)")
    add(inputs.tiles_index, "tile footprints with split and label (GeoPackage)")
    add(inputs.stack, "z-scored element stack (band names = elements)")
    for path in inputs.rasters:
        add(path, "interpolated element raster")
    if not items:
        return h.note("No map files.")
    return (h.paragraph("Open these in QGIS (links are relative to this report). GeoTIFFs carry CRS, nodata, "
                        "overviews and band names.") + h.links(items))
