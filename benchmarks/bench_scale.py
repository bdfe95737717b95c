"""Scaling benchmark: bounded memory and linear time from survey to dense map.

Synthetic surveys at multiples of the paper's size (1x = 7237 samples over about
1700 km2 on a 3072 x 3072 grid, 16 elements) go through the pipeline functions a
workflow run calls, stage by stage:

    prepare  (CSV -> cleaned GeoPackages)     pipeline.prepare
    idw      (16 GeoTIFFs)                    pipeline.idw.interpolate_to_geotiffs
    stack    (z-scored 16-band GeoTIFF)       pipeline.stack.zscore_stack
    tiles    (windows.npy, index, GeoPackage) pipeline.tiles.write_tiles
    load     (one training epoch of batches)  pipeline.nets.batches.Batches over a WindowReader
    predict  (dense probability GeoTIFF)      pipeline.skt.predict.predict_map

"load" reads one epoch of the training split as SKT training does (noise-copy
balancing, random 56 x 56 crops, batches of 64) without a model, always through
the lazy reader that large surveys take (train.max_in_memory_mb), so it shows the
memory and time of training's data loading apart from the network's arithmetic.

Each size runs in a fresh child process. Samples, area and grid cells all grow
with the scale factor (same density, same cell size), so "time per million
cells" stays flat when a stage is linear. Printed per stage: seconds, seconds
per million cells, the stage's peak resident memory (VmHWM, reset between stages
through /proc/self/clear_refs after handing freed heap back with malloc_trim, as
a stage in its own workflow job would start) with its resident memory at the
start, and the largest stage peak as the size's peak. (ru_maxrss of the child
is kept in the JSON but is not the peak: the kernel resets it with VmHWM.)

    .venv/bin/python benchmarks/bench_scale.py --scales 1 3 10          # about 25 minutes on 2 cores
    .venv/bin/python benchmarks/bench_scale.py --scales 30 --workdir /big/disk

Disk: each size's outputs are deleted after measuring; the rasters are deleted
once the stack is written and windows.npy once the tiles are timed, so the peak
is about two compressed 16-band grids (about 30 GB at 30x).
"""

import argparse
import ctypes
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
PAPER_SAMPLES = 7237
PAPER_AREA_KM2 = 1700.0
PAPER_GRID = 3072
ELEMENTS = ("Au", "B", "Sn", "Cu", "Ag", "Ba", "Mn", "Pb", "Zn", "As", "Sb", "Bi", "Hg", "Mo", "W", "F")
SITES_PER_KM2 = 40 / PAPER_AREA_KM2
CRS = "EPSG:32649"
STAGES = ("prepare", "idw", "stack", "tiles", "load", "predict")


# --- child: one size ----------------------------------------------------------------------------------

def synthetic_survey(scale, seed, out_dir):
    """Write samples.csv and sites.csv: uniform random samples over a square of
    ``scale`` x 1700 km2, 16 smooth log-normal element fields, sites on the highs."""
    rng = np.random.default_rng(seed)
    side = math.sqrt(PAPER_AREA_KM2 * scale) * 1000.0
    x0, y0 = 300000.0, 2390000.0
    n = int(round(PAPER_SAMPLES * scale))
    x = x0 + rng.random(n) * side
    y = y0 + rng.random(n) * side
    columns = {"SampleID": np.arange(1, n + 1), "X": np.round(x, 1), "Y": np.round(y, 1)}
    # a sum of plane waves with random directions and 5-20 km wavelengths per element
    for j, element in enumerate(ELEMENTS):
        field = np.zeros(n)
        for _ in range(6):
            angle = rng.random() * np.pi
            k = 2 * np.pi / rng.uniform(5000.0, 20000.0)
            field += np.cos(k * (x * np.cos(angle) + y * np.sin(angle)) + rng.random() * 2 * np.pi)
        values = np.exp(1.0 + 0.4 * field + 0.3 * rng.standard_normal(n))
        columns[f"{element}_ppm"] = np.round(values, 3)
    import pandas as pd

    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns).to_csv(out_dir / "samples.csv", index=False)
    n_sites = max(8, int(round(SITES_PER_KM2 * PAPER_AREA_KM2 * scale)))
    # sites where gold is high, so that both tile classes exist
    top = np.argsort(columns["Au_ppm"])[-n_sites * 20:]
    pick = rng.choice(top, n_sites, replace=False)
    pd.DataFrame({"Name": [f"site {i}" for i in range(n_sites)], "X": x[pick], "Y": y[pick]}).to_csv(
        out_dir / "sites.csv", index=False)
    return (x0, y0, x0 + side, y0 + side), n, n_sites


class Peak:
    """Peak resident memory per stage: VmHWM of this process, reset between stages."""

    def reset(self):
        # In the workflow every stage is its own process; here they share one, so
        # hand the heap an earlier stage freed back to the system first (glibc keeps
        # it otherwise, and it would count as this stage's memory).
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass

    def read_mib(self, field="VmHWM"):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")


def run_size(scale, workdir, seed, threads, overlap):
    import torch

    from pipeline.grid import grid_from_settings
    from pipeline.idw import interpolate_to_geotiffs
    from pipeline.nets.batches import Batches, sample_plan
    from pipeline.nets.tileset import load_tiles
    from pipeline.prepare import prepare_samples, prepare_sites
    from pipeline.skt.files import save_skt
    from pipeline.skt.model import build_skt
    from pipeline.skt.predict import predict_map
    from pipeline.stack import zscore_stack
    from pipeline.survey_io import write_points
    from pipeline.tiles import TileLayout, resolve_split_row, write_tiles

    torch.set_num_threads(threads)
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    t = time.perf_counter()
    extent, n_samples, n_sites = synthetic_survey(scale, seed, workdir / "raw")
    width = int(round(PAPER_GRID * math.sqrt(scale)))
    record = {"scale": scale, "samples": n_samples, "sites": n_sites, "width": width, "height": width,
              "cells": width * width, "generate_s": time.perf_counter() - t, "stages": {}}
    peak = Peak()

    def stage(name, func):
        peak.reset()
        # resident memory at the start: what earlier stages left behind (imports, freed but kept heap)
        start_mib = peak.read_mib("VmRSS")
        start, cpu = time.perf_counter(), time.process_time()
        out = func()
        record["stages"][name] = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                                  "peak_mib": peak.read_mib(), "start_mib": start_mib}
        print(f"  {scale}x {name}: {record['stages'][name]['seconds']:.1f} s, "
              f"peak {record['stages'][name]['peak_mib']:.0f} MiB (at start {start_mib:.0f} MiB), "
              f"disk {_du(workdir) / 2**30:.1f} GiB", file=sys.stderr, flush=True)
        return out

    def prepare():
        samples, _ = prepare_samples(workdir / "raw" / "samples.csv", x_column="X", y_column="Y", crs=CRS,
                                     working_crs=CRS)
        sites, _ = prepare_sites(workdir / "raw" / "sites.csv", x_column="X", y_column="Y", crs=CRS,
                                 working_crs=samples.crs)
        write_points(samples, workdir / "prepare" / "samples.gpkg")
        write_points(sites, workdir / "prepare" / "sites.gpkg")
        return samples, sites

    samples, sites = stage("prepare", prepare)
    names = [e for e in ELEMENTS if e in samples.columns]
    grid = grid_from_settings(CRS, extent, width=width, height=width)
    record["cell_size_m"] = grid.cell_size[0]
    rasters = [workdir / "rasters" / f"{n}.tif" for n in names]
    stage("idw", lambda: interpolate_to_geotiffs(
        samples[["x", "y"]].to_numpy(), samples[names].to_numpy(dtype=float), names, grid, rasters,
        power=2.0, n_neighbors=12, max_distance=2000.0, block_rows=256, workers=threads))
    record["rasters_gib"] = _du(workdir / "rasters") / 2**30
    stack = workdir / "stack" / "zscore.tif"
    stage("stack", lambda: zscore_stack(rasters, names, stack))
    record["stack_gib"] = _du(workdir / "stack") / 2**30
    shutil.rmtree(workdir / "rasters")
    window = 64
    layout = TileLayout(window, window, resolve_split_row(grid.height, window, 0.25))
    summary = stage("tiles", lambda: write_tiles(stack, sites.get_coordinates().to_numpy(), layout,
                                                 workdir / "tiles", min_valid_fraction=0.5))
    record["tiles"] = {k: v["windows"] for k, v in summary["counts"].items()}
    record["windows_gib"] = (workdir / "tiles" / "windows.npy").stat().st_size / 2**30

    def load():
        tiles = load_tiles(workdir / "tiles")
        x, y, _ = tiles.split_windows("train", None, max_bytes=0)       # always the lazy reader
        batches = Batches(x, y, sample_plan(y, "noise"), crop=56, noise_std=0.1, device=torch.device("cpu"))
        seen = 0
        for xb, _ in batches.train_batches(64, torch.Generator().manual_seed(seed),
                                            torch.Generator().manual_seed(seed + 1)):
            seen += len(xb)
        return seen

    record["load_samples"] = stage("load", load)
    (workdir / "tiles" / "windows.npy").unlink()
    # an untrained tiny SKT: prediction cost does not depend on the weights
    torch.manual_seed(seed)
    model = build_skt(names, {"dilations": [1, 2, 3], "transfer": False}, {"width": 4})
    save_skt(workdir / "model" / "skt.pt", model, crop=56, window=window, seed=seed)
    result = stage("predict", lambda: predict_map(workdir / "model" / "skt.pt", stack,
                                                  workdir / "maps" / "skt_probability.tif", overlap=overlap,
                                                  batch_size=64, device="cpu", threads=threads, amp=False))
    record["predict_windows"] = result["windows"]
    record["predict_stride"] = result["stride"]
    return record


def _du(path):
    path = Path(path)
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


# --- parent: one child per size ----------------------------------------------------------------------

def measure(scale, args):
    workdir = Path(args.workdir) / f"scale_{scale:g}"
    out_json = Path(args.workdir) / f"scale_{scale:g}.json"
    cmd = [sys.executable, __file__, "--child", str(scale), "--workdir", str(workdir), "--json", str(out_json),
           "--threads", str(args.threads), "--overlap", str(args.overlap), "--seed", str(args.seed)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{scale}x failed with status {os.waitstatus_to_exitcode(status)}")
    record = json.loads(out_json.read_text())
    record["maxrss_mib"] = usage.ru_maxrss / 1024   # kilobytes on Linux
    record["child_wall_s"] = wall
    record["child_cpu_s"] = usage.ru_utime + usage.ru_stime
    out_json.write_text(json.dumps(record, indent=2))
    return record


def table(records):
    lines = []
    head = f"{'size':>5} {'samples':>8} {'grid':>13} {'Mcells':>7} |"
    head += "".join(f" {s:>8}" for s in STAGES) + f" {'total':>8} | {'peak MiB':>8}"
    lines.append("seconds per million cells (stage peak MiB below); peak MiB = the largest stage peak "
                 "(VmHWM, reset per stage: the child's ru_maxrss only covers the last stage)")
    lines.append(head)
    lines.append("-" * len(head))
    for r in records:
        mc = r["cells"] / 1e6
        total = sum(v["seconds"] for v in r["stages"].values())
        row = f"{r['scale']:>4g}x {r['samples']:>8} {r['width']:>6}x{r['height']:<6} {mc:>7.1f} |"
        row += "".join(f" {r['stages'][s]['seconds'] / mc:>8.3f}" for s in STAGES)
        row += f" {total / mc:>8.3f} | {max(v['peak_mib'] for v in r['stages'].values()):>8.0f}"
        lines.append(row)
        mem = f"{'':>5} {'':>8} {'':>13} {'':>7} |" + "".join(
            f" {r['stages'][s]['peak_mib']:>8.0f}" for s in STAGES) + f" {'':>8} |"
        lines.append(mem)
        lines.append(f"{'':>5} total {total:.0f} s; rasters {r['rasters_gib']:.2f} GiB, "
                     f"stack {r['stack_gib']:.2f} GiB, windows.npy {r['windows_gib']:.2f} GiB; tiles {r['tiles']}; "
                     f"load {r['load_samples']} samples; predict {r['predict_windows']} windows, stride {r['predict_stride']}")
    lines.append("CPU seconds (user + system, all threads) per million cells")
    for r in records:
        mc = r["cells"] / 1e6
        total = sum(v["cpu_seconds"] for v in r["stages"].values())
        lines.append(f"{r['scale']:>4g}x {'':>8} {'':>13} {'':>7} |"
                     + "".join(f" {r['stages'][s]['cpu_seconds'] / mc:>8.3f}" for s in STAGES)
                     + f" {total / mc:>8.3f} |")
    lines.append("dense prediction per window (wall / CPU ms)")
    for r in records:
        windows = max(r["predict_windows"], 1)
        lines.append(f"{r['scale']:>4g}x {r['predict_windows']:>8} windows | "
                     f"{1000 * r['stages']['predict']['seconds'] / windows:>7.2f} / "
                     f"{1000 * r['stages']['predict']['cpu_seconds'] / windows:>7.2f}")
    if len(records) > 1:
        base = records[0]
        for key, label in (("seconds", "wall"), ("cpu_seconds", "CPU")):
            base_window = base["stages"]["predict"][key] / max(base["predict_windows"], 1)
            for r in records[1:]:
                per_window = r["stages"]["predict"][key] / max(r["predict_windows"], 1)
                lines.append(f"{label} time per predicted window, {r['scale']:g}x / {base['scale']:g}x: "
                             f"{per_window / base_window:.2f}")
        for key, label in (("seconds", "wall"), ("cpu_seconds", "CPU")):
            base_total = sum(v[key] for v in base["stages"].values()) / (base["cells"] / 1e6)
            for r in records[1:]:
                total = sum(v[key] for v in r["stages"].values()) / (r["cells"] / 1e6)
                lines.append(f"{label} time per million cells, {r['scale']:g}x / {base['scale']:g}x: "
                             f"{total / base_total:.2f}")
    return "\n".join(lines)


def ratios(records):
    """Each larger size against the first: time per predicted window and time per million cells (the
    whole chain), by wall and by CPU; 1.0 is linear."""
    base, out = records[0], []
    for r in records[1:]:
        row = {"scale": r["scale"], "base_scale": base["scale"]}
        for key, label in (("seconds", "wall"), ("cpu_seconds", "cpu")):
            per_window = r["stages"]["predict"][key] / max(r["predict_windows"], 1)
            row[f"predict_per_window_{label}"] = round(
                per_window / (base["stages"]["predict"][key] / max(base["predict_windows"], 1)), 3)
            total = sum(v[key] for v in r["stages"].values()) / (r["cells"] / 1e6)
            row[f"chain_per_mcell_{label}"] = round(
                total / (sum(v[key] for v in base["stages"].values()) / (base["cells"] / 1e6)), 3)
        out.append(row)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--workdir", default="/tmp/bench_scale")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--overlap", type=float, default=0.0,
                        help="predict.overlap (0: each cell in one window, like the tiles with stride = window)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep each size's outputs")
    parser.add_argument("--summary-json", type=Path,
                        help="write every size's record and the ratios here (for performance_page.py)")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.child is not None:
        record = run_size(args.child, args.workdir, args.seed, args.threads, args.overlap)
        Path(args.json).write_text(json.dumps(record, indent=2))
        return
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    records = []
    for scale in args.scales:
        records.append(measure(scale, args))
        print(table(records), flush=True)
    print(f"load average at the end: {os.getloadavg()}")
    if args.summary_json:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from stamp import stamp
        summary = {"benchmark": "bench_scale", **stamp(), "seconds": round(time.perf_counter() - started, 1),
                   "threads": args.threads, "overlap": args.overlap, "records": records,
                   "ratios": ratios(records) if len(records) > 1 else []}
        args.summary_json.parent.mkdir(parents=True, exist_ok=True)
        args.summary_json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
