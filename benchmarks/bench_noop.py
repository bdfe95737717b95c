"""How long Snakemake takes to say a finished run has nothing to do, and to list the rules, against a bare
Snakefile of the same size measured in the same run (the machine's noise cancels in the ratio).

    python benchmarks/bench_noop.py WORKDIR [--configfile FILE ...] [--repeats 5]

WORKDIR is a finished run (for the demo: the repository root after `make run`; any `skt run` folder with
--configfile FOLDER/skt.yaml). The bare workflow has as many rules as ours, one job per output file of the
finished run's DAG (from `--summary`), each output already there, so its no-op walks a DAG of the same size
with nothing to import or validate. Each command runs once to warm the caches, then ``--repeats`` times; the
medians are printed with their ratio and the spread (min-max). Issue 27's target: <= 1 s each for the demo.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from stamp import stamp  # noqa: E402


def timed(cmd, env, cwd=None):
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{result.stderr[-3000:]}")
    return elapsed, result.stdout + result.stderr


def medians(cmd, env, repeats, cwd=None):
    timed(cmd, env, cwd)  # warm-up
    times = [timed(cmd, env, cwd)[0] for _ in range(repeats)]
    return statistics.median(times), min(times), max(times)


def bare_workflow(folder, n_rules, n_jobs):
    """A Snakefile with ``n_rules`` rules and ``n_jobs`` finished outputs, all made by rule 0's wildcard jobs and
    gathered by rule all (the rest are never-needed rules, as most of ours are for one target)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["rule all:", "    input: expand('out/{i}.txt', i=range(%d))" % n_jobs, "", "rule make:",
             "    output: 'out/{i}.txt'", "    shell: 'touch {output}'", ""]
    for k in range(max(0, n_rules - 2)):
        lines += [f"rule r{k}:", f"    output: 'other/{k}/{{x}}.txt'", "    shell: 'touch {output}'", ""]
    (folder / "Snakefile").write_text("\n".join(lines))
    return folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--configfile", nargs="*", default=[])
    parser.add_argument("--target", nargs="*", default=[], help="targets of the finished run (default: all)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here (for performance_page.py)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    env = dict(os.environ, XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME") or str(args.workdir / ".cache"))
    # targets first: --configfile takes every word after it that is not an option
    ours = [sys.executable, "-m", "snakemake", *args.target, "-s", str(REPO / "Snakefile"), "-d", str(args.workdir),
            "--cores", "1", "--resources", "gpu=1"]
    if args.configfile:
        ours += ["--configfile", *map(str, args.configfile)]
    _, listing = timed(ours + ["--list-rules"], env)
    n_rules = sum(1 for line in listing.splitlines() if line.strip() and not line.startswith(" "))
    _, summary = timed(ours + ["--summary"], env)
    outputs = [line for line in summary.splitlines()[1:] if line.strip()]
    if any("\tmissing" in line or "update pending" in line for line in outputs):
        raise SystemExit(f"{args.workdir}: the run is not finished (snakemake --summary lists missing outputs)")
    _, dry = timed(ours + ["--dry-run"], env)
    if "Nothing to be done" not in dry:
        raise SystemExit(f"{args.workdir}: a dry run still has jobs to do; finish the run first")
    with tempfile.TemporaryDirectory() as tmp:
        bare = bare_workflow(Path(tmp) / "bare", n_rules, len(outputs))
        base = [sys.executable, "-m", "snakemake", "-s", str(bare / "Snakefile"), "-d", str(bare), "--cores", "1"]
        timed(base, env)  # make the bare outputs once
        rows = []
        for label, ours_cmd, bare_cmd in (("no-op rerun", ours, base),
                                          ("--list-rules", ours + ["--list-rules"], base + ["--list-rules"])):
            mine, bare_t = medians(ours_cmd, env, args.repeats), medians(bare_cmd, env, args.repeats)
            rows.append((label, mine, bare_t))
    load = os.getloadavg()[0]
    print(f"{args.workdir}: {n_rules} rules, {len(outputs)} output files; median of {args.repeats} after a warm-up; "
          f"load {load:.1f}")
    print("| command | ours, s (min-max) | bare Snakefile, s (min-max) | ratio |")
    print("|---|---|---|---|")
    for label, mine, bare_t in rows:
        print(f"| {label} | {mine[0]:.2f} ({mine[1]:.2f}-{mine[2]:.2f}) | {bare_t[0]:.2f} ({bare_t[1]:.2f}-"
              f"{bare_t[2]:.2f}) | {mine[0] / bare_t[0]:.2f} |")
    if args.json:
        # the code that ran is this checkout's Snakefile (WORKDIR only holds the finished results): to time a
        # commit, run the script of a clone of it (bench_demo.py --workdir makes one, with the finished demo)
        record = {"benchmark": "bench_noop", **stamp(REPO), "seconds": round(time.perf_counter() - started, 1),
                  "rules": n_rules, "outputs": len(outputs), "repeats": args.repeats, "load": round(load, 2),
                  "rows": [{"command": label, "ours_median_s": round(mine[0], 3), "ours_min_s": round(mine[1], 3),
                            "ours_max_s": round(mine[2], 3), "bare_median_s": round(bare_t[0], 3),
                            "ratio": round(mine[0] / bare_t[0], 3)} for label, mine, bare_t in rows]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
