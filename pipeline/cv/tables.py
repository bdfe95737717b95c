"""The cross-validation tables as a user reads them (Markdown beside the CSV)."""

import numpy as np

from ..evaluation.tables import METHOD_LABELS

REFERENCE_LABELS = {"sampling_density": "Sampling density (survey design, no chemistry)",
                    "robust_anomaly": "Robust multivariate anomaly (MCD Mahalanobis, log values)",
                    "campaign": "Campaign of the nearest sample (confound probe)"}


def method_label(name):
    if name in REFERENCE_LABELS:
        return REFERENCE_LABELS[name]
    if name.startswith("idw_"):
        return f"{name[4:]} (IDW raster)"
    return METHOD_LABELS.get(name, name)


def _f(value, digits=3):
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def protocol_text(plan, n_boot):
    return (f"Each fold holds out whole clusters of known sites (single linkage at {plan['cluster_distance']:g} m: "
            f"{plan['n_folds']} folds over {plan['n_clusters_held_out']} clusters) and refits every trained method, "
            f"its element screening included, without them and without the ground within {plan['buffer']:g} m of "
            "them; each held-out site's cell is then ranked among all cells of the sampled area, and the held-out-"
            "site AUC is the mean rank (0.5: no better than chance, 1: every site on the top cell). "
            f"Intervals are 95 % percentile intervals from {n_boot} bootstrap draws of site clusters; a difference "
            "whose interval includes 0 is not a difference.")


def summary_markdown(table, plan, n_boot):
    top = "top10" if "top10" in table.columns else None
    lines = ["# Held-out sites under spatial cross-validation", "", protocol_text(plan, n_boot), ""]
    best = table["best_reference"].iloc[0] if len(table) else None
    lines += ["| Method | Kind | Held-out AUC [95% CI] | Top 10% of area | P-A rate | "
              f"Minus best reference ({method_label(best) if best else 'none'}) [95% CI] | Beats it | "
              "Same as sampling density | Sites | Clusters | Folds | Seeds |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        diff = (f"{_f(r['diff_vs_best_reference'])} [{_f(r['diff_best_reference_ci_low'])}, "
                f"{_f(r['diff_best_reference_ci_high'])}]")
        same = "yes" if r["near_sampling_density"] and r["method"] != "sampling_density" else ""
        lines.append(f"| {method_label(r['method'])} | {r['kind']} | {_f(r['heldout_auc'])} "
                     f"[{_f(r['ci_low'])}, {_f(r['ci_high'])}] | {_f(r[top], 2) if top else 'n/a'} | "
                     f"{_f(r['pa_prediction_rate'], 2)} | {diff} | {'yes' if r['beats_best_reference'] else 'no'} | "
                     f"{same} | {int(r['n_sites'])} | {int(r['n_clusters'])} | {int(r['n_folds'])} | {r['seeds']} |")
    lines += ["", "Reading the table:", "",
              "- Reference maps need no training: every element's IDW raster as a geologist would look at it, the "
              "sampling density and a robust anomaly. The best reference is the best of them on these same sites, "
              "chosen after the fact, so beating it is a demanding test.",
              "- 'Same as sampling density': the interval of the difference from the sampling-density map covers 0. "
              "A map there may have learnt where the survey sampled densely, not the chemistry.",
              "- A site whose cell a map leaves empty (no window kept there, or a selected element without data) "
              "ranks lowest in that map; n_sites_no_value in cv_summary.csv counts them per method.",
              "- A probe row (campaign of the nearest sample) measures a confound: if it finds held-out sites, so "
              "can a model through campaign-specific detection-limit codes.",
              "- cv_windows.csv holds the paper's window metrics per fold and pooled over folds, a secondary view: "
              "a fold tests the windows of the whole-grid tiling within the buffer of its held-out sites (windows "
              "also holding a training site are left out), scored by the mean map value over their cells."]
    excluded = [s for s in plan["sites"] if s["status"] != "scored"]
    if excluded:
        lines += ["", f"Sites not scored ({len(excluded)} of {plan['n_sites']}): "
                  f"{plan['n_outside_grid']} outside the grid, {plan['n_outside_area']} on the grid but farther "
                  "than interpolate.max_distance from every sample: "
                  + ", ".join(f"{s['name']} ({s['status'].replace('_', ' ')})" for s in excluded[:20])
                  + (" ..." if len(excluded) > 20 else "") + "."]
    return "\n".join(lines) + "\n"


def cross_survey_table(summaries):
    """Methods side by side across surveys from their cv_summary tables
    ({survey: DataFrame}): held-out-site AUC with its interval per survey and the
    mean rank (1 = best) over the surveys that ran the method. Element rasters
    differ between surveys, so each survey contributes its best one as
    'best_element' (the element is named in the cell)."""
    import pandas as pd

    rows = {}
    for survey, table in summaries.items():
        table = table.copy()
        idw = table[table["method"].str.startswith("idw_")]
        keep = table[~table["method"].str.startswith("idw_")]
        if len(idw):
            best = idw.loc[idw["heldout_auc"].idxmax()].copy()
            best["note"] = best["method"][4:]
            best["method"] = "best_element"
            keep = pd.concat([keep, best.to_frame().T], ignore_index=True)
        keep["heldout_auc"] = keep["heldout_auc"].astype(float)
        keep["rank"] = keep["heldout_auc"].rank(ascending=False, method="average")
        for _, r in keep.iterrows():
            entry = rows.setdefault(r["method"], {"method": r["method"], "kind": r["kind"]})
            note = f" ({r['note']})" if isinstance(r.get("note"), str) else ""
            entry[f"{survey}_auc"] = float(r["heldout_auc"])
            entry[f"{survey}_ci"] = f"[{float(r['ci_low']):.3f}, {float(r['ci_high']):.3f}]{note}"
            entry[f"{survey}_rank"] = float(r["rank"])
    out = pd.DataFrame(list(rows.values()))
    rank_cols = [f"{s}_rank" for s in summaries]
    out["mean_rank"] = out[rank_cols].mean(axis=1, skipna=True)
    out["n_surveys"] = out[rank_cols].notna().sum(axis=1)
    return out.sort_values("mean_rank", kind="stable").reset_index(drop=True)


def cross_survey_markdown(table, surveys):
    lines = ["# Held-out sites across surveys (spatial cross-validation)", "",
             "Held-out-site AUC [95 % cluster-bootstrap interval] per survey and the rank among that survey's rows "
             "(1 = best). 'Best element raster' is each survey's best single element, chosen after the fact. "
             "Ranks differ by less than the intervals suggest: read the intervals first.", "",
             "| Method | Kind | " + " | ".join(surveys) + " | Mean rank |",
             "|---|---|" + "---|" * len(surveys) + "---|"]
    for _, r in table.iterrows():
        cells = []
        for s in surveys:
            auc = r.get(f"{s}_auc")
            cells.append("n/a" if auc is None or not np.isfinite(auc) else
                         f"{auc:.3f} {r[f'{s}_ci']} (#{r[f'{s}_rank']:g})")
        label = "Best element raster" if r["method"] == "best_element" else method_label(r["method"])
        lines.append(f"| {label} | {r['kind']} | " + " | ".join(cells) + f" | {r['mean_rank']:.1f} |")
    return "\n".join(lines) + "\n"
