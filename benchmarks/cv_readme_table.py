"""Print the README's compact cross-validation table of one survey from its cv_summary.csv.

    python benchmarks/cv_readme_table.py results/katanning/tables/cv_summary.csv [--elements 3]
        [--pairs skt:random_forest_pixel skt:resnet18]

Rows: every trained method and probe, the sampling-density and robust-anomaly
maps, and the best few element rasters; the full table is cv_summary.md.
``--pairs a:b`` adds paired differences of held-out-site AUC between two
trained methods, with cluster-bootstrap 95 % intervals (same clusters, same
draws as the summary), read from cv/evaluation/{method}.json beside the tables;
a name ending in .json is another run's evaluation file (e.g. the same survey
with another source.task), paired site by site.
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.cv.scores import paired_difference


def fmt(v, digits=3):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def site_means(path):
    """{site id: (cluster, mean score over seeds)} of one method's evaluation."""
    record = json.loads(Path(path).read_text())
    return {s["id"]: (s["cluster"], float(np.mean(s["score"]))) for s in record["sites"]}


def evaluation_file(evaluation_dir, name):
    """A method of this run (its name) or another run's evaluation (a path ending in .json)."""
    return Path(name) if name.endswith(".json") else Path(evaluation_dir) / f"{name}.json"


def paired(evaluation_dir, a, b, n_boot=2000, seed=42):
    sa, sb = site_means(evaluation_file(evaluation_dir, a)), site_means(evaluation_file(evaluation_dir, b))
    if set(sa) != set(sb) or any(sa[k][0] != sb[k][0] for k in sa):
        raise SystemExit(f"{a} and {b} were not scored on the same sites and clusters: they cannot be paired")
    clusters = sorted({sa[k][0] for k in sa})
    by_a = [[sa[k][1] for k in sorted(sa) if sa[k][0] == c] for c in clusters]
    by_b = [[sb[k][1] for k in sorted(sa) if sa[k][0] == c] for c in clusters]
    return paired_difference(by_a, by_b, n_boot, seed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary")
    parser.add_argument("--elements", type=int, default=3, help="best element rasters to show")
    parser.add_argument("--pairs", nargs="*", default=[],
                        help="method:method paired differences (a method may be another run's evaluation .json)")
    args = parser.parse_args(argv)
    t = pd.read_csv(args.summary)
    idw = t[t["method"].str.startswith("idw_")].sort_values("heldout_auc", ascending=False).head(args.elements)
    rest = t[~t["method"].str.startswith("idw_")]
    rows = pd.concat([rest[rest["kind"] != "reference"], rest[rest["kind"] == "reference"], idw])
    fair = t["reference_fair_is"].iloc[0]
    print(f"| Method | Kind | Held-out AUC [95% CI] | over clusters | Top 10% | Minus reference_fair ({fair}) "
          "[95% CI] | Same as sampling density |")
    print("|---|---|---|---|---|---|---|")
    for _, r in rows.iterrows():
        label = r["label"] if "label" in r else r["method"]
        same = "yes" if r["near_sampling_density"] and r["method"] != "sampling_density" else ""
        beats = " (beats it)" if bool(r["beats_reference_fair"]) else ""
        diff = "" if r["method"] == "reference_fair" else (f"{fmt(r['diff_vs_reference_fair'])} "
                                                          f"[{fmt(r['diff_reference_fair_ci_low'])}, "
                                                          f"{fmt(r['diff_reference_fair_ci_high'])}]{beats}")
        print(f"| {label} | {r['kind']} | {fmt(r['heldout_auc'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] | "
              f"{fmt(r['heldout_auc_clusters'])} | {fmt(r['top10'], 2)} | {diff} | {same} |")
    print(f"\n{int(t['n_sites'].iloc[0])} scored sites in {int(t['n_clusters'].iloc[0])} clusters, "
          f"{int(t['n_folds'].iloc[0])} folds; {int(t['n_sites_outside_grid'].iloc[0])} sites outside the grid, "
          f"{int(t['n_sites_outside_area'].iloc[0])} outside the sampled area.")
    evaluation = Path(args.summary).parent.parent / "cv" / "evaluation"
    for pair in args.pairs:
        a, b = pair.split(":")
        mean, low, high = paired(evaluation, a, b)
        verdict = "a difference" if low > 0 or high < 0 else "not a difference (the interval covers 0)"
        print(f"{a} minus {b}: {mean:+.3f} [{low:+.3f}, {high:+.3f}], {verdict}")


if __name__ == "__main__":
    main()
