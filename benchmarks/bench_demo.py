"""The demo as a new user runs it: a fresh clone of this checkout's HEAD, then `make run`'s own command
(`snakemake --cores N --resources gpu=1`), timed as a whole, with the CPU it used and how busy it kept the cores.

    python benchmarks/bench_demo.py --cores 2 --json benchmarks/out/demo.json

Printed and written to --json: wall seconds, CPU seconds (user + system of every process the run started,
from getrusage(RUSAGE_CHILDREN), which counts reaped grandchildren too), utilisation = CPU seconds /
(wall seconds x cores), the number of jobs, and each rule's summed wall, CPU and peak memory from the
benchmark files Snakemake wrote (benchmarks/profile_rules.py). The clone uses this checkout's virtual
environment (the interpreter running this script), so install time is not counted; `make install` on a
fresh machine is timed apart in the README's set-up section. Issue 27's targets: wall <= 600 s on 2 cores,
utilisation >= 0.85.
"""

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_rules import by_rule, read_benchmarks  # noqa: E402
from stamp import stamp  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def child_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fresh_clone(target):
    """A clone of HEAD: what a user gets; uncommitted changes are not measured (the record says so)."""
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(target)], check=True)


def run_demo(clone, cores, log_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(clone / ".cache"))
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--resources", "gpu=1"]
    cpu_before = child_cpu_seconds()
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.run(cmd, cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    cpu = child_cpu_seconds() - cpu_before
    if proc.returncode != 0:
        raise SystemExit(f"the demo failed (exit {proc.returncode}); its log: {log_path}")
    text = Path(log_path).read_text()
    done = re.findall(r"(\d+) of (\d+) steps \(100%\) done", text)
    jobs = int(done[-1][1]) if done else None
    return wall, cpu, jobs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workdir", type=Path, help="clone here and keep it (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_demo_"))
    clone = work / "clone"
    if clone.exists():
        shutil.rmtree(clone)
    work.mkdir(parents=True, exist_ok=True)
    fresh_clone(clone)
    where = stamp(clone)
    load_before = os.getloadavg()[0]
    wall, cpu, jobs = run_demo(clone, args.cores, work / "snakemake.log")
    rules = by_rule(read_benchmarks(clone / "results" / "demo")).sort_values("wall_s", ascending=False)
    record = {
        "benchmark": "bench_demo", **where, "seconds": round(wall, 1), "cores": args.cores, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
        "utilisation": round(cpu / (wall * args.cores), 3), "jobs": jobs,
        "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
        "rules": [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()}
                  for row in rules.to_dict("records")],
    }
    print(f"demo at {where['commit']}{' (uncommitted changes not measured)' if where['uncommitted_changes'] else ''}, --cores {args.cores}: "
          f"{wall:.0f} s wall, {cpu:.0f} s CPU, utilisation {record['utilisation']:.0%}, {jobs} jobs "
          f"(load {load_before:.1f} before); targets: <= 600 s, >= 85 %")
    print(rules.head(15).to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
