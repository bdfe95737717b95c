"""The cross-validation tables as a user reads them (Markdown beside the CSV)."""

import numpy as np

from ..methods import label as method_label
from ..methods import names

#: the labels of the maps that need no training, from the registry (pipeline.methods)
REFERENCE_LABELS = {name: method_label(name) for name in names("reference", "probe")}


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


def _interval(value, low, high):
    return f"{_f(value)} [{_f(low)}, {_f(high)}]"


def _verdict(row, name):
    """'yes' when the interval of the difference lies above 0, 'worse' below it, 'no' otherwise."""
    low, high = row.get(f"diff_{name}_ci_low"), row.get(f"diff_{name}_ci_high")
    if low is None or not np.isfinite(low):
        return "n/a"
    return "yes" if low > 0 else "worse" if high < 0 else "no"


def summary_markdown(table, plan, n_boot, choices=None):
    """The cross-validation table led by the verdict against reference_fair.
    ``choices``: the nested choice of each fold (``yardstick.nested_choice``)."""
    top = "top10" if "top10" in table.columns else None
    lines = ["# Held-out sites under spatial cross-validation", "", protocol_text(plan, n_boot), ""]
    first = table.iloc[0] if len(table) else {}
    fair = first.get("reference_fair_is", "") if len(table) else ""
    oracle = first.get("oracle_reference_is", "") if len(table) else ""
    if fair:
        lines += [f"The yardstick is **reference_fair**, the stronger on these held-out sites of two maps fixed "
                  f"without them: here {method_label(fair)}. A trained map beats it when the 95 % interval of the "
                  "paired difference lies above 0; 'worse' when it lies below; 'no' when it covers 0 (not a "
                  "difference).", ""]
    has = {n: f"diff_vs_{n}" in table.columns for n in ("reference_fair", "reference_nested", "reference_commodity")}
    head = ["Method", "Kind", "Tuning", "Held-out AUC, sites [95% CI]", "Held-out AUC, clusters [95% CI]"]
    if has["reference_fair"]:
        head += ["Minus reference_fair, sites [95% CI]", "Beats it", "Minus reference_fair, clusters [95% CI]",
                 "Beats it (clusters)"]
    for n in ("reference_nested", "reference_commodity"):
        if has[n]:
            head += [f"Minus {n} [95% CI]", "Beats it"]
    head += ["Top 10% of area", "Same as sampling density", "Sites", "Clusters", "Seeds"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [method_label(r["method"]) + (f" ({method_label(r['chosen'])})" if r.get("chosen") and
                                              " " not in r["chosen"] else ""),
                 r["kind"], r.get("tuning", ""), _interval(r["heldout_auc"], r["ci_low"], r["ci_high"]),
                 _interval(r["heldout_auc_clusters"], r["ci_low_clusters"], r["ci_high_clusters"])]
        if has["reference_fair"]:
            cells += [_interval(r["diff_vs_reference_fair"], r["diff_reference_fair_ci_low"],
                                r["diff_reference_fair_ci_high"]), _verdict(r, "reference_fair"),
                      _interval(r["diff_vs_reference_fair_clusters"], r["diff_reference_fair_clusters_ci_low"],
                                r["diff_reference_fair_clusters_ci_high"]), _verdict(r, "reference_fair_clusters")]
        for n in ("reference_nested", "reference_commodity"):
            if has[n]:
                cells += [_interval(r[f"diff_vs_{n}"], r[f"diff_{n}_ci_low"], r[f"diff_{n}_ci_high"]), _verdict(r, n)]
        same = "yes" if r["near_sampling_density"] and r["method"] != "sampling_density" else ""
        cells += [_f(r[top], 2) if top else "n/a", same, str(int(r["n_sites"])), str(int(r["n_clusters"])),
                  str(r["seeds"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Reading the table:", "",
              "- reference_commodity is the raster of the survey's declared commodity element "
              "(evaluate.commodity; several: the mean of their rank maps). reference_nested is, in each fold, the "
              "element raster or robust anomaly that ranks that fold's training sites highest, read at its "
              "held-out sites. Neither sees a held-out site. reference_fair is the stronger of the two here.",
              f"- oracle_reference ({method_label(oracle) if oracle else 'none'}) is the best single reference map "
              "picked on these same held-out sites: an upper bound no user holds in advance, so no verdict is "
              "given against it (its difference is in cv_summary.csv).",
              "- 'sites' weighs every held-out site alike; 'clusters' averages each cluster's sites first and "
              "weighs every cluster alike, so one large cluster cannot decide alone.",
              "- Tuning: 'fixed' rows run the config's settings, set by rules that read no held-out score; "
              "'nested' rows are chosen inside each fold on its training sites only; 'oracle' is picked on the "
              "test sites.",
              "- 'Same as sampling density': the interval of the difference from the sampling-density map covers 0. "
              "A map there may have learnt where the survey sampled densely, not the chemistry.",
              "- A site whose cell a map leaves empty (no window kept there, or a selected element without data) "
              "ranks lowest in that map; n_sites_no_value in cv_summary.csv counts them per method.",
              "- A probe row (campaign of the nearest sample) measures a confound: if it finds held-out sites, so "
              "can a model through campaign-specific detection-limit codes.",
              "- cv_windows.csv holds the paper's window metrics per fold and pooled over folds, a secondary view: "
              "a fold tests the windows of the whole-grid tiling within the buffer of its held-out sites (windows "
              "also holding a training site are left out), scored by the mean map value over their cells."]
    if choices:
        lines += ["", "reference_nested, fold by fold (chosen on the fold's training sites):", "",
                  "| Fold | Chosen | AUC on training sites | Training sites | Runner-up |", "|---|---|---|---|---|"]
        for c in choices:
            runner = f"{method_label(c['runner_up'])} ({_f(c['runner_up_auc'])})" if c.get("runner_up") else ""
            lines.append(f"| {c['fold']} | {method_label(c['chosen'])} | {_f(c['training_auc'])} | "
                         f"{c['n_training_sites']} | {runner} |")
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
    'oracle_element' (the element is named in the cell): it is picked on the
    test sites, an upper bound, while reference_fair is the yardstick."""
    import pandas as pd

    rows = {}
    for survey, table in summaries.items():
        table = table.copy()
        idw = table[table["method"].str.startswith("idw_")]
        keep = table[~table["method"].str.startswith("idw_")]
        if len(idw):
            best = idw.loc[idw["heldout_auc"].idxmax()].copy()
            best["note"] = best["method"][4:]
            best["method"] = "oracle_element"
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
             "(1 = best). 'Best element raster (oracle)' is each survey's best single element picked on its test "
             "sites, an upper bound; reference_fair is the yardstick fixed without them. "
             "Ranks differ by less than the intervals suggest: read the intervals first.", "",
             "| Method | Kind | " + " | ".join(surveys) + " | Mean rank |",
             "|---|---|" + "---|" * len(surveys) + "---|"]
    for _, r in table.iterrows():
        cells = []
        for s in surveys:
            auc = r.get(f"{s}_auc")
            cells.append("n/a" if auc is None or not np.isfinite(auc) else
                         f"{auc:.3f} {r[f'{s}_ci']} (#{r[f'{s}_rank']:g})")
        label = "Best element raster (oracle)" if r["method"] == "oracle_element" else method_label(r["method"])
        lines.append(f"| {label} | {r['kind']} | " + " | ".join(cells) + f" | {r['mean_rank']:.1f} |")
    return "\n".join(lines) + "\n"
