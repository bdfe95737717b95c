"""Time, CPU time and peak memory of every job of a finished run, from the
benchmark files Snakemake writes for each rule (``benchmark:`` directives).

    python benchmarks/profile_rules.py results/demo            # every job, slowest first
    python benchmarks/profile_rules.py results/demo --by-rule  # jobs of one rule summed (folds, seeds, methods)

The total is the sum of the jobs' wall times: the time the run would take on one
core with no parallelism; the run's own wall time is shorter with several cores.
"""

import argparse
import re
from pathlib import Path

import pandas as pd


def read_benchmarks(results_dir):
    """One row per benchmark file: job (its path under benchmarks/, without .tsv), wall and CPU seconds,
    peak resident memory in MiB (the last line of a file: the latest run of that job)."""
    root = Path(results_dir) / "benchmarks"
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        table = pd.read_csv(path, sep="\t")
        if table.empty:
            continue
        last = table.iloc[-1]
        rows.append({"job": str(path.relative_to(root).with_suffix("")), "wall_s": float(last["s"]),
                     "cpu_s": float(last.get("cpu_time", float("nan"))),
                     "max_rss_mib": float(last.get("max_rss", float("nan")))})
    if not rows:
        raise SystemExit(f"no benchmark files under {root}")
    return pd.DataFrame(rows)


def by_rule(table):
    """Jobs grouped by rule name: fold, seed and variant numbers in the file name are dropped."""
    key = table["job"].map(lambda j: re.sub(r"(_seed\d+|_fold\d+|seed\d+|fold\d+)", "", j).rstrip("_/"))
    grouped = table.assign(rule=key).groupby("rule")
    return grouped.agg(jobs=("job", "size"), wall_s=("wall_s", "sum"), cpu_s=("cpu_s", "sum"),
                       max_rss_mib=("max_rss_mib", "max")).reset_index()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", help="results/{dataset}")
    parser.add_argument("--by-rule", action="store_true", help="sum the jobs of each rule")
    parser.add_argument("--top", type=int, default=0, help="show only the slowest N rows")
    args = parser.parse_args(argv)
    table = read_benchmarks(args.results_dir)
    if args.by_rule:
        table = by_rule(table)
    table = table.sort_values("wall_s", ascending=False, kind="stable")
    shown = table.head(args.top) if args.top else table
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"\ntotal: {table['wall_s'].sum():.1f} s wall, {table['cpu_s'].sum():.1f} s CPU over {len(table)} "
          f"{'rules' if args.by_rule else 'jobs'}; largest peak {table['max_rss_mib'].max():.0f} MiB")


if __name__ == "__main__":
    main()
