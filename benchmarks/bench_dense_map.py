"""Dense prediction at growing grid sizes: time per window, the networks' share
and peak memory (issue 14).

Each size runs in a fresh child process: a synthetic z-scored stack (smooth
plane-wave fields, a nodata corner) of side 3072 x sqrt(scale) cells is written,
then an untrained SKT (prediction cost does not depend on the weights; by
default the demo's: width 16, five target networks at dilations 1, 2, 3, 4, 6;
``--width 4 --dilations 1 2 3`` is bench_scale.py's tiny one) maps it with
``pipeline.skt.predict.predict_map``. The time spent
inside the networks (``window_probabilities``) is measured apart, so the
printout shows what the windowing around them costs. Ratios are against the
first size of the same run (the machine may be shared).

    .venv/bin/python benchmarks/bench_dense_map.py --scales 1 3 10
    .venv/bin/python benchmarks/bench_dense_map.py --demo results/demo   # stride 8 against half a window
"""

import argparse
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
SIDE = 3072
BANDS = ("Au", "As", "Sb", "Cu")


def peak_mib(field="VmHWM"):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib():
    return peak_mib("VmRSS")


def write_stack(path, side, seed):
    from pipeline.grid import grid_from_settings
    from pipeline.rasters import block_windows, open_geotiff_for_writing

    rng = np.random.default_rng(seed)
    grid = grid_from_settings("EPSG:32649", (400000.0, 2400000.0, 400000.0 + side * 13.4, 2400000.0 + side * 13.4),
                              width=side, height=side)
    waves = [[(rng.random() * np.pi, 2 * np.pi / rng.uniform(300, 1500), rng.random() * 2 * np.pi)
              for _ in range(4)] for _ in BANDS]
    with open_geotiff_for_writing(path, grid, list(BANDS), overviews=False) as dst:
        for window in block_windows(side, side, 256):
            rows = np.arange(window.row_off, window.row_off + window.height)[:, None]
            cols = np.arange(window.col_off, window.col_off + window.width)[None, :]
            corner = (rows + cols) < side // 6
            for b, band_waves in enumerate(waves, start=1):
                field = sum(np.cos(k * (cols * np.cos(a) + rows * np.sin(a)) + p) for a, k, p in band_waves) / 2
                dst.write(np.where(corner, -9999.0, field).astype(np.float32), b, window=window)
    return grid


def child(scale, workdir, seed, threads, overlap, window, width=16, dilations=(1, 2, 3, 4, 6)):
    import torch

    from pipeline.skt import predict as predict_module
    from pipeline.skt.files import save_skt
    from pipeline.skt.model import build_skt

    torch.set_num_threads(threads)
    workdir = Path(workdir)
    side = int(round(SIDE * math.sqrt(scale)))
    t = time.perf_counter()
    write_stack(workdir / "stack.tif", side, seed)
    setup = time.perf_counter() - t
    torch.manual_seed(seed)
    model = build_skt(list(BANDS), {"dilations": list(dilations), "transfer": False}, {"width": width})
    save_skt(workdir / "skt.pt", model, crop=window - 8, window=window, seed=seed)
    network = {"seconds": 0.0}
    inner = predict_module.window_probabilities

    def timed(*args, **kwargs):
        start = time.perf_counter()
        out = inner(*args, **kwargs)
        network["seconds"] += time.perf_counter() - start
        return out

    predict_module.window_probabilities = timed
    # the stack was written by this process: hand its freed heap back before the peak is reset
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    start_mib = rss_mib()
    Path("/proc/self/clear_refs").write_text("5")
    start, cpu = time.perf_counter(), time.process_time()
    result = predict_module.predict_map(workdir / "skt.pt", workdir / "stack.tif", workdir / "map.tif",
                                        overlap=overlap, window=window, batch_size=64, device="cpu",
                                        threads=threads, amp=False)
    seconds = time.perf_counter() - start
    return {"scale": scale, "side": side, "cells": side * side, "setup_s": setup, "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu, "network_seconds": network["seconds"],
            "windows": result["windows"], "stride": result["stride"], "peak_mib": peak_mib(), "start_mib": start_mib}


def demo_strides(results, threads, strides):
    """Time the demo's SKT map at each stride (same model, same stack) and rank
    each against the demo's truth."""
    import torch

    from pipeline.evaluation.truth import truth_table
    from pipeline.rasters import read_band
    from pipeline.skt.predict import predict_map

    torch.set_num_threads(threads)
    results = Path(results)
    out = []
    for stride in strides:
        meta = json.loads((results / "tiles" / "tiles.json").read_text())
        window = int(meta["window"])
        overlap = 1 - stride / window
        start = time.perf_counter()
        r = predict_map(results / "models" / "skt.pt", results / "stack" / "zscore.tif", f"/tmp/demo_stride{stride}.tif",
                        overlap=overlap, device="cpu", threads=threads)
        out.append({"stride": r["stride"], "windows": r["windows"], "seconds": time.perf_counter() - start})
        density, grid = read_band(results / "maps" / "reference" / "sampling_density.tif")
        truth = truth_table(REPO / "data" / "demo" / "truth.tif", {"skt": f"/tmp/demo_stride{stride}.tif"},
                            np.isfinite(density), grid)["truth_auc"].iloc[0]
        print(f"demo, window {window}, stride {r['stride']}: {r['windows']} windows, {out[-1]['seconds']:.1f} s, "
              f"truth AUC {truth:.3f}", flush=True)
    base = out[0]["seconds"]
    for r in out:
        print(f"  stride {r['stride']}: {r['seconds'] / base:.2f}x the time of stride {out[0]['stride']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 3, 10])
    parser.add_argument("--workdir", default="/tmp/bench_dense_map")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--overlap", type=float, default=0.0)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--width", type=int, default=16, help="SKT's ResNet-18 width (16: the demo's model)")
    parser.add_argument("--dilations", type=int, nargs="+", default=[1, 2, 3, 4, 6],
                        help="one target network per dilation (the demo's: 1 2 3 4 6)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--demo", help="a finished demo's results/demo: time stride 8 against half a window")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.demo:
        demo_strides(args.demo, args.threads, [32, 8])
        return
    if args.child is not None:
        record = child(args.child, args.workdir, args.seed, args.threads, args.overlap, args.window, args.width,
                       args.dilations)
        Path(args.json).write_text(json.dumps(record))
        return
    records = []
    for scale in args.scales:
        work = Path(args.workdir) / f"scale_{scale:g}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        out = Path(args.workdir) / f"scale_{scale:g}.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        subprocess.run([sys.executable, __file__, "--child", str(scale), "--workdir", str(work), "--json", str(out),
                        "--threads", str(args.threads), "--overlap", str(args.overlap), "--window",
                        str(args.window), "--seed", str(args.seed), "--width", str(args.width),
                        "--dilations", *map(str, args.dilations)], check=True, env=env)
        r = json.loads(out.read_text())
        shutil.rmtree(work, ignore_errors=True)
        records.append(r)
        per = r["seconds"] / r["windows"] * 1000
        rest = (r["seconds"] - r["network_seconds"]) / r["windows"] * 1000
        print(f"{scale:g}x: {r['side']} x {r['side']} cells, {r['windows']} windows (stride {r['stride']}): "
              f"{r['seconds']:.1f} s ({r['cpu_seconds']:.1f} s CPU), {per:.2f} ms per window, networks "
              f"{r['network_seconds'] / r['seconds']:.0%} of it, the rest {rest:.2f} ms per window; peak "
              f"{r['peak_mib']:.0f} MiB ({r['peak_mib'] - r['start_mib']:.0f} MiB above the start)", flush=True)
    base = records[0]
    for r in records[1:]:
        ratio = (r["seconds"] / r["windows"]) / (base["seconds"] / base["windows"])
        rest = ((r["seconds"] - r["network_seconds"]) / r["windows"]) / (
            (base["seconds"] - base["network_seconds"]) / base["windows"])
        grown = (r["peak_mib"] - r["start_mib"]) / max(base["peak_mib"] - base["start_mib"], 1)
        print(f"{r['scale']:g}x against {base['scale']:g}x: time per window {ratio:.2f}x (without the networks "
              f"{rest:.2f}x), memory above the start {grown:.2f}x", flush=True)
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
