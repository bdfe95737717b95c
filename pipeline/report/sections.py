"""The report's sections, one function each, in page order. Each takes what it
shows (paths of ReportInputs, the Layout, parsed JSON) and the figures folder,
and returns a Section (anchor, heading, HTML body and the figures it made), or
None when it has nothing to show and is left off the page.

Every number comes from a table or map the workflow wrote; none is recomputed.
"""

import datetime
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from . import figures as fig
from . import html as h
from ..records import read_json
from .inputs import method_label, read_csv
from .scores import read_window_scores
from .tables import (confusion_matrices, map_curve_entries, map_scalar_table, prediction_area_curves, qa_tables,
                     skt_metrics_table, success_rate_curves, table_section)


@dataclass
class Section:
    """One section of the page and the PNGs it embeds."""

    id: str
    heading: str
    body: str
    figures: list = field(default_factory=list)


class Figures:
    """PNG paths in the figures folder, remembering each one handed out."""

    def __init__(self, folder):
        self.folder, self.made = Path(folder), []

    def __call__(self, name):
        path = self.folder / f"{name}.png"
        self.made.append(path)
        return path


# ----------------------------------------------------------------- summary and maps

SPLIT_NOTE = ("Window metrics are on the spatial test split (windows below the train/test boundary) without noise "
              "copies; the paper's noise-balanced protocol is reported beside them, labelled, because its copies "
              "are not independent samples.")


def summary_section(dataset, layout, metrics):
    """Dataset, grid, window counts and the SKT vote's headline metrics."""
    grid = layout.grid
    pairs = [("dataset", dataset), ("generated", datetime.datetime.now().isoformat(timespec="seconds"))]
    if grid is not None:
        pairs += [("grid", f"{grid.width} x {grid.height} cells of {grid.cell_size[0]:g} m, {grid.crs}"),
                  ("train / test boundary", f"pixel row {layout.split_row}")]
    counts = layout.meta.get("counts") or {}
    for split in ("train", "test", "skipped"):
        if split in counts:
            pairs.append((f"{split} windows", f"{counts[split]['windows']} ({counts[split]['with_mines']} with mines)"))
    if len(layout.sites_xy):
        pairs.append(("known sites", len(layout.sites_xy)))
    vote = (metrics.get("primary") or {}).get("vote") or {}
    for k in ("accuracy", "recall", "f1", "roc_auc"):
        if k in vote:
            pairs.append((f"SKT vote, test windows: {k}", vote[k]))
    return Section("summary", "Summary", h.key_values(pairs) + h.paragraph(SPLIT_NOTE))


def maps_section(inputs, layout, folder):
    """SKT's map, its windows on the tile grid and the dense baselines' maps."""
    png = Figures(folder)
    where = {"sites_xy": layout.sites_xy, "split_row": layout.split_row}
    if inputs.probability:
        body = h.figure(fig.prospectivity_map_figure(inputs.probability, png("prospectivity_skt"), **where,
                                                     title=f"{method_label('skt')}: prospectivity"),
                        "SKT prospectivity (mean \u201cwith mines\u201d probability of the target networks) with the "
                        "known sites; the dashed line is the train/test boundary, sites below it were never "
                        "seen in training (paper Fig. 7).")
    else:
        body = h.note("No SKT probability map (maps/skt_probability.tif).")
    if inputs.windows and layout.grid is not None:
        import geopandas as gpd

        meta = layout.meta
        body += h.figure(fig.window_predictions_figure(
            gpd.read_file(inputs.windows), png("windows_skt"), grid=layout.grid, window=meta.get("window"),
            stride=meta.get("stride", meta.get("window")), **where, title="SKT per window"),
            "Per-window SKT probability on the tile grid (each window drawn as its central stride x stride "
            "cells); black outline = window with mines, red cross = vote disagrees with the label.")
    if inputs.dense_maps:
        maps = {method_label(k): v for k, v in inputs.dense_maps.items()}
        body += h.figure(fig.probability_maps_figure(maps, png("prospectivity_baselines"), **where),
                         "Dense baseline maps on the same colour scale (0..1).")
    return Section("maps", "Prospectivity maps", body, png.made)


# ----------------------------------------------------------------- cross-validation

#: cv_summary.csv columns shown, in order (those present).
CV_COLUMNS = ("label", "kind", "tuning", "heldout_auc", "ci_low", "ci_high", "heldout_auc_clusters",
              "diff_vs_reference_fair", "diff_reference_fair_ci_low", "diff_reference_fair_ci_high",
              "beats_reference_fair", "beats_reference_fair_clusters", "diff_vs_reference_nested",
              "beats_reference_nested", "diff_vs_reference_commodity", "beats_reference_commodity",
              "top10", "near_sampling_density", "n_sites", "n_clusters", "n_folds", "seeds")


def _cv_text(fair):
    here = f"; here {method_label(fair)}" if isinstance(fair, str) and fair else ""
    return ("Held-out sites under spatial cross-validation (tables/cv_summary.md states the protocol): each fold "
            "holds out whole clusters of sites and refits everything supervised without them; a site's score is "
            "the share of the sampled area ranked below its cell in the map of its fold (0.5: chance). Intervals "
            "are 95 % cluster-bootstrap intervals: a difference inside them is not a difference. The verdict is "
            "against reference_fair, the stronger of two maps fixed without the held-out sites: the declared "
            "commodity element (reference_commodity) and the element that ranks each fold's training sites "
            f"highest (reference_nested){here}. "
            "oracle_reference, picked on the test sites, is an upper bound, not a verdict. A method near the "
            "sampling-density row may have learnt the survey design.")


def cv_section(cv_summary):
    """tables/cv_summary.csv: the honest estimate, before the paper's single split."""
    if not cv_summary:
        return None
    cv = read_csv(cv_summary)
    shown = [c for c in CV_COLUMNS if c in cv.columns]
    fair = cv["reference_fair_is"].iloc[0] if "reference_fair_is" in cv.columns and len(cv) else ""
    body = h.paragraph(_cv_text(fair)) + h.table(cv[shown], highlight=cv["kind"] == "trained")
    return Section("cross-validation", "Held-out sites (spatial cross-validation)", body)


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


def uncertainty_section(uncertainty_maps, sites_xy, folder):
    """The spread of the cross-validation's fold models (maps/{method}_uncertainty.tif)."""
    if not uncertainty_maps:
        return None
    png = Figures(folder)
    spreads = {method_label(k): v for k, v in uncertainty_maps.items()}
    body = h.figure(fig.spread_maps_figure(spreads, png("uncertainty"), sites_xy=sites_xy),
                    "Per-cell standard deviation of the probability across the models of the cross-validation "
                    f"folds and seeds ({_model_counts(uncertainty_maps)}), on one scale from 0 to 0.5; "
                    "triangles are the known sites.")
    body += h.paragraph(UNCERTAINTY_NOTE)
    return Section("uncertainty", "Where the models disagree (uncertainty maps)", body, png.made)


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


def attribution_section(attribution):
    """What drives each held-out site: the figure and table cv_attribution wrote per method."""
    if not attribution:
        return None
    body = h.paragraph("For the learners whose logit is an exact sum (weights of evidence: the prior plus each "
                       "layer's weight; the anchored logistic model: the reference plus each band's term), "
                       "maps/{method}_attribution.tif holds each input's mean share of the logit over the folds, "
                       "one band an input (red raises a cell, blue lowers it). At each held-out site the shares "
                       "come from the fold that held it out.")
    for name, (png_path, table_path) in attribution.items():
        body += h.figure(png_path, f"{method_label(name)}: the element adding most to the logit at each "
                                   "held-out site, and its mean share there.")
        body += h.table(pd.read_csv(table_path), caption=f"{method_label(name)}: top elements at each "
                                                             "held-out site (tables/"
                                                             f"{table_path.name})")
    return Section("attribution", "What made the held-out sites stand out (attribution)", body)


# ----------------------------------------------------------------- the paper's split

def comparison_section(inputs, folder):
    """Paper Tables 3 and 4 and the ROC of every method on the test windows (tables/test_window_scores.csv)."""
    png = Figures(folder)
    if inputs.comparison:
        body = table_section(inputs.comparison, "Paper Table 3: each method on the test windows (mean \u00b1 "
                                                "std over seeds; paper_* = noise-balanced protocol).")
    else:
        body = h.note("No comparison table (tables/comparison.csv).")
    if inputs.per_network:
        body += table_section(inputs.per_network, "Paper Table 4: each SKT target network and the vote.")
    scores = read_window_scores(inputs.window_scores) if inputs.window_scores else {}
    if scores:
        body += h.figure(fig.roc_figure(scores, png("roc_test_windows")),
                         "ROC on the test windows. SKT scores whole windows; dense baselines are scored by the "
                         "mean (per-pixel baselines: the configured reduction) of their map over each window.")
    return Section("comparison", "Comparison with the baselines", body, png.made)


SCOPE_TEXT = {"test": "test-part sites on the test part of the map (honest)",
              "all": "all sites on the whole map (training sites included: optimistic)", "map": "all maps"}


def map_evaluation_section(map_evaluation, folder):
    """Success-rate and prediction-area curves and the scalar table of tables/map_evaluation.json."""
    png = Figures(folder)
    entries = map_curve_entries(read_json(map_evaluation) or {}) if map_evaluation else []
    body = ""
    for scope in ("test", "all", "map"):
        curves = success_rate_curves(entries, scope)
        if curves:
            body += h.figure(fig.success_rate_figure(curves, png(f"success_rate_{scope}"),
                                                     title=f"Success-rate curves ({scope})"),
                             f"Success-rate curves, {SCOPE_TEXT[scope]}.")
        pa = prediction_area_curves(entries, scope)
        if pa:
            body += h.figure(fig.prediction_area_figure(pa, png(f"prediction_area_{scope}"),
                                                        title=f"Prediction-area plots ({scope})"),
                             f"Prediction-area plots, {SCOPE_TEXT[scope]}; the dot marks where the curves cross.")
    if entries:
        body += h.table(map_scalar_table(entries))
    elif not body:
        body = h.note("No map-level evaluation (tables/map_evaluation.json).")
    return Section("map-evaluation", "Map-level evaluation", body, png.made)


def skt_section(metrics, skt_log, source_log, folder):
    """Confusion matrices and metrics per target network, training curves, the learned soft mask."""
    png = Figures(folder)
    body = ""
    matrices = confusion_matrices(metrics)
    if matrices:
        body += h.figure(fig.confusion_matrix_figure(matrices, png("confusion_skt")),
                         "Confusion matrices of each target network and the vote on the test windows "
                         "(paper Fig. 5); rows true class, columns prediction.")
        body += h.table(skt_metrics_table(metrics))
    logs = {name: path for name, path in (("SKT", skt_log), ("source", source_log)) if path}
    if logs:
        body += h.figure(fig.training_curves_figure(logs, png("training")),
                         "Training loss, test-window metrics of the vote and learning rate per epoch.")
    mask = metrics.get("soft_mask_values")
    if mask:
        body += h.paragraph("Learned soft-mask weight per element:")
        body += h.table(pd.DataFrame({"element": list(mask), "weight": list(mask.values())}))
    return Section("skt", "SKT model", body or h.note("No SKT metrics or training logs."), png.made)


def ablation_section(ablation, beta_sweep, folder):
    """Paper Table 5 and Figure 6; None when neither table was made."""
    png = Figures(folder)
    body = ""
    if ablation:
        body += table_section(ablation, "Paper Table 5: SKT with one part switched off.")
    if beta_sweep:
        body += h.figure(fig.beta_curve_figure(read_csv(beta_sweep), png("beta_sweep")),
                         "Test metrics against the self-distillation weight \u03b2 (paper Fig. 6).")
        body += table_section(beta_sweep, "\u03b2 sweep.")
    return Section("ablation", "Ablation and \u03b2 sweep", body, png.made) if body else None


# ----------------------------------------------------------------- data

def _selected(table):
    return table["selected"].astype(str).str.lower() == "true"


def screening_section(inputs, qa, folder):
    """The element screening table and the interpolated rasters of the selected elements."""
    png = Figures(folder)
    body = ""
    raster_source = inputs.rasters or ([inputs.stack] if inputs.stack else [])
    if inputs.elements:
        table = read_csv(inputs.elements)
        body += h.paragraph("Element screening (paper eqs. 1-2); selected elements are shaded.")
        body += h.table(table, highlight=_selected(table) if "selected" in table.columns else None)
        if inputs.rasters:
            # every element is interpolated; the figure shows the selected ones, as the paper's Fig. 3
            chosen = set(table.loc[_selected(table), "element"].astype(str))
            raster_source = [p for p in inputs.rasters if Path(p).stem in chosen] or raster_source
    if raster_source:
        units = (qa.get("samples") or {}).get("units") or {}
        body += h.figure(fig.element_rasters_figure(raster_source, png("elements"),
                                                    units=units if inputs.rasters else None),
                         "Interpolated element rasters (paper Fig. 3), each stretched between its 2nd and 98th "
                         "percentile.")
    return Section("screening", "Elements", body or h.note("No screening table or rasters."), png.made)


def qa_section(qa):
    """prepare/qa.json: readable summaries, and the whole file folded below."""
    if not qa:
        return None
    body = "".join(f"<h3>{h.esc(title)}</h3>{html}" for title, html in qa_tables(qa))
    body += h.details("qa.json in full", h.pre(json.dumps(qa, indent=2)))
    return Section("qa", "Data preparation (qa.json)", body)


def settings_section(settings):
    """The dataset's run settings as YAML."""
    if not settings:
        return None
    return Section("settings", "Run settings", h.pre(yaml.safe_dump(_plain(settings), sort_keys=False,
                                                                   allow_unicode=True)))


def _plain(value):
    """Settings as plain YAML types (tuples and numpy scalars appear in config views)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def files_section(inputs, base):
    """Links, relative to the report's folder ``base``, to the maps and layers to open in QGIS."""
    items = []
    for path, desc in _map_files(inputs):
        items.append(_link(path, base, desc))
        qml = Path(path).with_suffix(".qml")
        if Path(path).suffix == ".tif" and qml.exists():
            items.append(_link(qml, base, "its QGIS style, applied automatically when the map is opened"))
    if not items:
        return Section("files", "Files for QGIS", h.note("No map files."))
    return Section("files", "Files for QGIS", h.paragraph(
        "Open these in QGIS (links are relative to this report). GeoTIFFs carry CRS, nodata, overviews and band "
        "names.") + h.links(items))


def _link(path, base, desc):
    return Path(path).name, os.path.relpath(Path(path).resolve(), Path(base).resolve()), desc


def _map_files(inputs):
    """(path, description) of each map file present, in the order listed."""
    files = [(inputs.probability, "SKT prospectivity GeoTIFF (band 1; one band per target network after it)")]
    files += [(path, f"{method_label(name)} probability GeoTIFF") for name, path in inputs.dense_maps.items()]
    files += [(path, f"{method_label(name)} spread across the cross-validation models (band 1: std, band 2: "
                     "models)") for name, path in inputs.uncertainty_maps.items()]
    files += [(inputs.windows, "per-window SKT predictions (GeoPackage)"),
              (inputs.sites, "known sites in the working CRS (GeoPackage)"),
              (inputs.tiles_index, "tile footprints with split and label (GeoPackage)"),
              (inputs.stack, "z-scored element stack (band names = elements)")]
    files += [(path, "interpolated element raster") for path in inputs.rasters]
    return [(path, desc) for path, desc in files if path]
