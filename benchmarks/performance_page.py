"""docs/results/performance.md, generated from the benchmarks' own records: nothing on the page is typed.

    python benchmarks/bench_demo.py --cores 2 --workdir /tmp/bench_demo --json benchmarks/out/demo.json
    (cd /tmp/bench_demo/clone && $OLDPWD/.venv/bin/python benchmarks/bench_noop.py . --json $OLDPWD/benchmarks/out/noop.json)
    python benchmarks/bench_idw.py --json benchmarks/out/idw.json
    python benchmarks/bench_scale.py --scales 1 10 --summary-json benchmarks/out/scale.json
    python benchmarks/performance_page.py benchmarks/out

The records are copied to docs/results/data/performance/ and the page is rendered from those copies, so
tests/test_results_pages.py can render it again and fail when the page and its data disagree. A benchmark
without a record gets a line saying how to make one.
"""

import argparse
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "results" / "performance.md"
DATA = REPO / "docs" / "results" / "data" / "performance"
RECORDS = ("demo", "noop", "idw", "scale")
COMMANDS = {
    "demo": "python benchmarks/bench_demo.py --cores 2 --json benchmarks/out/demo.json",
    "noop": "python benchmarks/bench_noop.py . --json benchmarks/out/noop.json",
    "idw": "python benchmarks/bench_idw.py --json benchmarks/out/idw.json",
    "scale": "python benchmarks/bench_scale.py --scales 1 10 --summary-json benchmarks/out/scale.json",
}
# Issue 27's targets
DEMO_WALL_S, DEMO_UTILISATION, NOOP_S, IDW_RATIO, IDW_REL_DIFF, SCALE_RATIO = 600, 0.85, 1.0, 60, 1e-6, 1.1


def _verdict(ok):
    return "met" if ok else "**missed**"


def _stamp(record):
    dirty = record["uncommitted_changes"]
    commit = record["commit"] + (" (with uncommitted changes)" if dirty else "")
    took = record.get("seconds")
    took = f"; the benchmark took {took / 60:.1f} min" if took is not None else ""
    return f"commit {commit}, {record['date']}, {record['machine']}{took}"


def _missing(name):
    return f"Not measured yet: `{COMMANDS[name]}`, then this page's command.\n"


def demo_section(r):
    lines = [f"`{COMMANDS['demo']}`: a fresh clone of HEAD, then `make run`'s command "
             f"(`snakemake --cores {r['cores']} --resources gpu=1`). {_stamp(r)}.", ""]
    wall_ok, util_ok = r["wall_s"] <= DEMO_WALL_S, r["utilisation"] >= DEMO_UTILISATION
    lines += ["| figure | value | target | |", "|---|---|---|---|",
              f"| wall time | {r['wall_s']:.0f} s ({r['wall_s'] / 60:.1f} min) | <= {DEMO_WALL_S} s | "
              f"{_verdict(wall_ok)} |",
              f"| CPU time (every process of the run) | {r['cpu_s']:.0f} s | | |",
              f"| utilisation, CPU / (wall x {r['cores']} cores) | {r['utilisation']:.0%} | "
              f">= {DEMO_UTILISATION:.0%} | {_verdict(util_ok)} |",
              f"| jobs | {r['jobs']} | | |",
              f"| load average before / after | {r['load_before']:.1f} / {r['load_after']:.1f} | | |", ""]
    rules = r["rules"]
    lines += [f"Per rule, from the benchmark files Snakemake wrote (`benchmarks/profile_rules.py --by-rule`): "
              f"{sum(x['wall_s'] for x in rules):.0f} s of job wall time and {sum(x['cpu_s'] for x in rules):.0f} s "
              f"of job CPU over {len(rules)} rules, slowest first.", "",
              "| rule | jobs | wall s | CPU s | peak MiB |", "|---|---|---|---|---|"]
    shown = [x for x in rules if x["wall_s"] >= 1.0]
    lines += [f"| {x['rule']} | {x['jobs']} | {x['wall_s']:.1f} | {x['cpu_s']:.1f} | {x['max_rss_mib']:.0f} |"
              for x in shown]
    rest = [x for x in rules if x["wall_s"] < 1.0]
    if rest:
        lines.append(f"| {len(rest)} rules under 1 s each | {sum(x['jobs'] for x in rest)} | "
                     f"{sum(x['wall_s'] for x in rest):.1f} | {sum(x['cpu_s'] for x in rest):.1f} | "
                     f"{max(x['max_rss_mib'] for x in rest):.0f} |")
    return "\n".join(lines) + "\n"


def noop_section(r):
    lines = [f"`{COMMANDS['noop']}` in bench_demo's clone (its code is what runs): {r['rules']} rules, {r['outputs']} output files, median of {r['repeats']} "
             f"after a warm-up, against a bare Snakefile of the same size in the same run; load {r['load']:.1f}. "
             f"{_stamp(r)}.", "",
             "| command | ours, median s (min-max) | bare Snakefile, median s | ratio | target | |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {x['command']} | {x['ours_median_s']:.2f} ({x['ours_min_s']:.2f}-{x['ours_max_s']:.2f}) | "
              f"{x['bare_median_s']:.2f} | {x['ratio']:.2f} | <= {NOOP_S:g} s | "
              f"{_verdict(x['ours_median_s'] <= NOOP_S)} |" for x in r["rows"]]
    return "\n".join(lines) + "\n"


def idw_section(r):
    case = (f"{r['samples']} samples, {r['elements']} elements, a {r['grid']} grid of {r['cell_m']:g} m cells, "
            f"power 2, 12 neighbours, 2 km radius, {r['workers']} threads each; {r['gdal']}")
    quick = " (`--quick`: the targets are meant for the full case)" if r["quick"] else ""
    lines = [f"`{COMMANDS['idw']}`{quick}: {case}. {_stamp(r)}.", "",
             "| figure | value | target | |", "|---|---|---|---|",
             f"| ours, wall (median of 3) | {r['ours_wall_s']:.2f} s | | |",
             f"| gdal_grid invdistnn, wall | {r['gdal_wall_s']:.2f} s | | |",
             f"| speed-up by wall time | {r['wall_ratio']:.1f}x | >= {IDW_RATIO}x | "
             f"{_verdict(r['wall_ratio'] >= IDW_RATIO)} |",
             f"| speed-up by CPU time | {r['cpu_ratio']:.1f}x ({r['ours_cpu_s']:.1f} s against "
             f"{r['gdal_cpu_s']:.1f} s) | | |",
             f"| largest relative difference | {r['max_rel_diff']:.3g} | <= {IDW_REL_DIFF:g} | "
             f"{_verdict(r['max_rel_diff'] <= IDW_REL_DIFF)} |",
             f"| cells filled by only one | {r['cells_filled_by_one']} | 0 | "
             f"{_verdict(r['cells_filled_by_one'] == 0)} |",
             f"| our peak memory | {r['peak_mib']} MiB | bounded | |"]
    return "\n".join(lines) + "\n"


def scale_section(r):
    lines = [f"`{COMMANDS['scale']}`: synthetic surveys at multiples of the paper's size through prepare, IDW, "
             f"stack, tiles, one training epoch's loading and the dense prediction, each size in its own process, "
             f"{r['threads']} threads, `predict.overlap` {r['overlap']:g}. {_stamp(r)}.", "",
             "| size | samples | grid | s per million cells, wall (CPU) | prediction, ms per window | "
             "peak MiB |", "|---|---|---|---|---|---|"]
    for x in r["records"]:
        mcells = x["cells"] / 1e6
        wall = sum(v["seconds"] for v in x["stages"].values()) / mcells
        cpu = sum(v["cpu_seconds"] for v in x["stages"].values()) / mcells
        per_window = 1000 * x["stages"]["predict"]["seconds"] / max(x["predict_windows"], 1)
        peak = max(v["peak_mib"] for v in x["stages"].values())
        lines.append(f"| {x['scale']:g}x | {x['samples']} | {x['width']} x {x['height']} | {wall:.2f} ({cpu:.2f}) "
                     f"| {per_window:.2f} ({x['predict_windows']} windows) | {peak:.0f} |")
    if r["ratios"]:
        lines += ["", "| against | prediction per window, wall | CPU | whole chain per million cells, wall | CPU | "
                  "target | |", "|---|---|---|---|---|---|---|"]
        for x in r["ratios"]:
            worst = max(x["predict_per_window_wall"], x["chain_per_mcell_wall"])
            lines.append(f"| {x['scale']:g}x / {x['base_scale']:g}x | {x['predict_per_window_wall']:.2f} | "
                         f"{x['predict_per_window_cpu']:.2f} | {x['chain_per_mcell_wall']:.2f} | "
                         f"{x['chain_per_mcell_cpu']:.2f} | <= {SCALE_RATIO:g} | {_verdict(worst <= SCALE_RATIO)} |")
    return "\n".join(lines) + "\n"


SECTIONS = (("demo", "The demo, end to end", demo_section),
            ("noop", "No-op rerun and `--list-rules` of the finished demo", noop_section),
            ("idw", "IDW against gdal_grid", idw_section),
            ("scale", "Scaling from the paper's size", scale_section))


def render(data_dir):
    """The page from the records in ``data_dir`` (only those: the test renders the committed copies)."""
    data_dir = Path(data_dir)
    parts = ["# Performance\n",
             "Generated by `python benchmarks/performance_page.py benchmarks/out` from the benchmark records in "
             "`docs/results/data/performance/`; do not edit by hand. Each section names the command that made its "
             "record, the commit, the date, the machine and how long the benchmark took. Targets are issue 27's. "
             "The machine may be shared: the ratios are measured against a baseline in the same run.\n"]
    for name, title, section in SECTIONS:
        path = data_dir / f"{name}.json"
        parts.append(f"## {title}\n")
        parts.append(section(json.loads(path.read_text())) if path.exists() else _missing(name))
    return "\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path, help="folder of demo.json, noop.json, idw.json, scale.json")
    parser.add_argument("--page", type=Path, default=PAGE)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    found = [name for name in RECORDS if (args.records / f"{name}.json").exists()]
    for name in found:  # a record left out keeps the copy already published
        shutil.copyfile(args.records / f"{name}.json", args.data / f"{name}.json")
    args.page.parent.mkdir(parents=True, exist_ok=True)
    args.page.write_text(render(args.data))
    print(f"{args.page}: from {', '.join(found) or 'no new records'} (records in {args.data})")


if __name__ == "__main__":
    main()
