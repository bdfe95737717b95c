"""Print the README's compact cross-validation table of one survey from its cv_summary.csv.

    python benchmarks/cv_readme_table.py results/katanning/tables/cv_summary.csv [--elements 3]

Rows: every trained method and probe, the sampling-density and robust-anomaly
maps, and the best few element rasters; the full table is cv_summary.md.
"""

import argparse
import math

import pandas as pd


def fmt(v, digits=3):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary")
    parser.add_argument("--elements", type=int, default=3, help="best element rasters to show")
    args = parser.parse_args(argv)
    t = pd.read_csv(args.summary)
    idw = t[t["method"].str.startswith("idw_")].sort_values("heldout_auc", ascending=False).head(args.elements)
    rest = t[~t["method"].str.startswith("idw_")]
    rows = pd.concat([rest[rest["kind"] != "reference"], rest[rest["kind"] == "reference"], idw])
    best = t["best_reference"].iloc[0]
    print(f"| Method | Kind | Held-out AUC [95% CI] | Top 10% | Minus best reference ({best}) [95% CI] | "
          "Same as sampling density |")
    print("|---|---|---|---|---|---|")
    for _, r in rows.iterrows():
        label = r["label"] if "label" in r else r["method"]
        same = "yes" if r["near_sampling_density"] and r["method"] != "sampling_density" else ""
        beats = " (beats it)" if r["beats_best_reference"] else ""
        diff = "" if r["method"] == best else (f"{fmt(r['diff_vs_best_reference'])} "
                                               f"[{fmt(r['diff_best_reference_ci_low'])}, "
                                               f"{fmt(r['diff_best_reference_ci_high'])}]{beats}")
        print(f"| {label} | {r['kind']} | {fmt(r['heldout_auc'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] | "
              f"{fmt(r['top10'], 2)} | {diff} | {same} |")
    print(f"\n{int(t['n_sites'].iloc[0])} scored sites in {int(t['n_clusters'].iloc[0])} clusters, "
          f"{int(t['n_folds'].iloc[0])} folds; {int(t['n_sites_outside_grid'].iloc[0])} sites outside the grid, "
          f"{int(t['n_sites_outside_area'].iloc[0])} outside the sampled area.")


if __name__ == "__main__":
    main()
