"""Benchmark pipeline.idw against GDAL's gdal_grid (invdistnn) on the paper-sized case.

Paper-sized: 7237 samples, 16 elements, a 3072 x 3072 grid of 13.4 m cells,
12 neighbours, power 2, a 2 km search radius. gdal_grid runs once per element,
as a user would, on a VRT over a per-element CSV; ours writes all 16 GeoTIFFs in
one call. Both run on the same machine in the same run with the same number of
threads. Prints both times, their ratio, the largest relative difference on
cells both fill, and our peak memory.

    .venv/bin/python benchmarks/bench_idw.py            # full (several minutes)
    .venv/bin/python benchmarks/bench_idw.py --quick    # smoke run, seconds

Needs gdal_grid on PATH (Debian: apt-get install -y gdal-bin).
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from stamp import stamp  # noqa: E402

CRS = "EPSG:32649"  # UTM 49N, where the paper's Pangxidong area lies
ORIGIN = (600000.0, 2450000.0)


def make_case(n_samples, n_elements, size, cell, seed):
    """Synthetic survey: clustered sample sites, smooth log-normal element fields."""
    from affine import Affine

    from pipeline.grid import GridSpec

    rng = np.random.default_rng(seed)
    extent = size * cell
    # a mix of uniform coverage and denser clusters, like stream-sediment surveys
    n_clustered = n_samples // 3
    centres = rng.uniform(0.1 * extent, 0.9 * extent, (20, 2))
    clustered = (centres[rng.integers(0, 20, n_clustered)]
                 + rng.normal(0, 0.02 * extent, (n_clustered, 2)))
    uniform = rng.uniform(0, extent, (n_samples - n_clustered, 2))
    xy = np.clip(np.vstack([uniform, clustered]), 0, extent) + ORIGIN
    values = np.empty((n_samples, n_elements))
    for j in range(n_elements):
        bumps = rng.uniform(0, extent, (8, 2)) + ORIGIN
        width = 0.08 * extent
        field = sum(np.exp(-((xy - b) ** 2).sum(axis=1) / (2 * width ** 2)) for b in bumps)
        values[:, j] = np.exp(field + rng.normal(0, 0.5, n_samples)) * 10 ** rng.uniform(-1, 3)
    names = [f"E{j:02d}" for j in range(n_elements)]
    grid = GridSpec(CRS, Affine(cell, 0.0, ORIGIN[0], 0.0, -cell, ORIGIN[1] + extent), size, size)
    return xy, values, names, grid


def _child_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ours(case_file, out_dir, settings, workers):
    """Run our interpolation in a child process; return (call s, process wall s, CPU s)."""
    cpu, start = _child_cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", str(case_file), str(out_dir),
                           json.dumps(settings), str(workers)],
                          capture_output=True, text=True, check=True)
    wall, cpu = time.perf_counter() - start, _child_cpu() - cpu
    return json.loads(proc.stdout.splitlines()[-1])["seconds"], wall, cpu


def child(case_file, out_dir, settings, workers):
    from pipeline.grid import GridSpec
    from pipeline.idw import interpolate_to_geotiffs

    case = np.load(case_file)
    grid = GridSpec.from_dict(json.loads(str(case["grid"])))
    names = [str(n) for n in case["names"]]
    paths = [Path(out_dir) / f"{n}.tif" for n in names]
    start = time.perf_counter()
    interpolate_to_geotiffs(case["xy"], case["values"], names, grid, paths, workers=workers,
                            **settings)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def _load():
    return "; load average %.2f %.2f %.2f" % os.getloadavg()


def gdal_inputs(xy, values, names, in_dir):
    """One CSV plus an OGR VRT per element, with that element's valid samples only."""
    vrts = []
    for j, name in enumerate(names):
        ok = np.isfinite(values[:, j])
        csv = in_dir / f"{name}.csv"
        np.savetxt(csv, np.column_stack([xy[ok], values[ok, j]]), delimiter=",", fmt="%.17g",
                   header="x,y,z", comments="")
        vrt = in_dir / f"{name}.vrt"
        vrt.write_text(
            f'<OGRVRTDataSource><OGRVRTLayer name="{name}">'
            f'<SrcDataSource relativeToVRT="1">{csv.name}</SrcDataSource>'
            "<GeometryType>wkbPoint</GeometryType>"
            f"<LayerSRS>{CRS}</LayerSRS>"
            '<GeometryField encoding="PointFromColumns" x="x" y="y" z="z"/>'
            "</OGRVRTLayer></OGRVRTDataSource>\n")
        vrts.append(vrt)
    return vrts


def run_gdal(vrts, names, grid, out_dir, settings, workers):
    xmin, ymin, xmax, ymax = grid.bounds
    algo = (f"invdistnn:power={settings['power']:g}:max_points={settings['n_neighbors']}"
            f":radius={settings['search_radius']:g}:nodata=-9999")
    env = dict(os.environ, GDAL_NUM_THREADS=str(workers))
    cpu, start = _child_cpu(), time.perf_counter()
    for vrt, name in zip(vrts, names):
        subprocess.run(["gdal_grid", "-q", "-a", algo, "-txe", repr(xmin), repr(xmax),
                        "-tye", repr(ymin), repr(ymax), "-outsize", str(grid.width),
                        str(grid.height), "-ot", "Float32", "-l", name, str(vrt),
                        str(out_dir / f"{name}.tif")], check=True, env=env)
    return time.perf_counter() - start, _child_cpu() - cpu


def compare(ours_dir, gdal_dir, names, grid):
    """Largest relative difference on cells both fill; cells only one fills."""
    import rasterio

    worst, only_one = 0.0, 0
    for name in names:
        with rasterio.open(ours_dir / f"{name}.tif") as a, \
                rasterio.open(gdal_dir / f"{name}.tif") as b:
            # gdal_grid must put its cell centres where ours are: same transform
            if not np.allclose(list(a.transform)[:6], list(b.transform)[:6], rtol=0, atol=1e-6):
                raise SystemExit(f"grids differ: ours {a.transform} gdal_grid {b.transform}")
            ours = a.read(1, masked=True).filled(np.nan).astype(np.float64)
            ref = b.read(1, masked=True).filled(np.nan).astype(np.float64)
        both = np.isfinite(ours) & np.isfinite(ref)
        only_one += int((np.isfinite(ours) != np.isfinite(ref)).sum())
        rel = np.abs(ours[both] - ref[both]) / np.maximum(np.abs(ref[both]), 1e-30)
        worst = max(worst, float(rel.max(initial=0.0)))
    return worst, only_one


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="512 x 512 grid, 3 elements")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="threads for both ours and gdal_grid (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep inputs and outputs in this folder")
    parser.add_argument("--json", type=Path, help="also write the figures here (for performance_page.py)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    started = time.perf_counter()
    if args.child:
        case_file, out_dir, settings, workers = args.child
        return child(case_file, out_dir, json.loads(settings), int(workers))
    if shutil.which("gdal_grid") is None:
        raise SystemExit("gdal_grid not found: apt-get update && apt-get install -y gdal-bin")

    n_samples, n_elements, size, cell = 7237, 16, 3072, 13.4
    if args.quick:
        n_elements, size, cell = 3, 512, 13.4 * 6
    settings = {"power": 2.0, "n_neighbors": 12, "search_radius": 2000.0}
    xy, values, names, grid = make_case(n_samples, n_elements, size, cell, args.seed)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_idw_"))
    try:
        dirs = {k: work / k for k in ("input", "ours", "gdal")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        case_file = dirs["input"] / "case.npz"
        np.savez(case_file, xy=xy, values=values, names=np.array(names),
                 grid=json.dumps(grid.to_dict()))
        vrts = gdal_inputs(xy, values, names, dirs["input"])
        gdal_version = subprocess.run(["gdal_grid", "--version"], capture_output=True,
                                      text=True).stdout.strip()
        print(f"case: {n_samples} samples, {n_elements} elements, {size} x {size} grid of "
              f"{cell:g} m, power 2, 12 neighbours, search radius 2000 m; "
              f"threads {args.workers}, {os.cpu_count()} cores; {gdal_version}", flush=True)

        # The machine may be shared: ours runs before, between the two halves of and
        # after the gdal_grid runs, and its median counts; CPU seconds, which other
        # jobs disturb far less than wall time, are printed beside.
        half = len(names) // 2
        ours, gdal_s, gdal_cpu = [], 0.0, 0.0
        for part in (slice(0, half), slice(half, None), None):
            call_s, wall_s, cpu_s = run_ours(case_file, dirs["ours"], settings, args.workers)
            if not ours:  # the only child waited for so far, besides gdal_grid --version
                peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            ours.append((wall_s, cpu_s))
            print(f"ours:      {wall_s:8.2f} s for {n_elements} GeoTIFFs (child process wall "
                  f"time; interpolate_to_geotiffs call {call_s:.2f} s; CPU {cpu_s:.1f} s)"
                  f"{_load()}", flush=True)
            if part is not None:
                wall_s, cpu_s = run_gdal(vrts[part], names[part], grid, dirs["gdal"], settings,
                                         args.workers)
                gdal_s, gdal_cpu = gdal_s + wall_s, gdal_cpu + cpu_s
                print(f"gdal_grid: {wall_s:8.2f} s for {len(names[part])} runs "
                      f"(CPU {cpu_s:.1f} s){_load()}", flush=True)
        ours_s, ours_cpu = (float(np.median(v)) for v in zip(*ours))
        ratio = gdal_s / ours_s
        print(f"gdal_grid: {gdal_s:8.2f} s for all {n_elements} elements (CPU {gdal_cpu:.1f} s)")
        print(f"ours:      {ours_s:8.2f} s median of 3 runs (CPU {ours_cpu:.1f} s)")
        print(f"speed-up:  {ratio:8.1f} x wall time (gdal_grid / ours)  target >= 60 "
              f"{'ok' if ratio >= 60 else 'MISSED'};  {gdal_cpu / ours_cpu:.1f} x CPU time")
        worst, only_one = compare(dirs["ours"], dirs["gdal"], names, grid)
        print(f"max relative difference on cells both fill: {worst:.3g}  target <= 1e-6 "
              f"{'ok' if worst <= 1e-6 else 'MISSED'}; cells filled by only one: {only_one}")
        print(f"our peak memory: {peak_mib:.0f} MiB (ru_maxrss of our first child process, "
              f"from getrusage(RUSAGE_CHILDREN))  target < 1024 "
              f"{'ok' if peak_mib < 1024 else 'MISSED'}")
        if args.quick:
            print("(--quick: the targets are meant for the full case)")
        if args.json:
            record = {"benchmark": "bench_idw", **stamp(), "seconds": round(time.perf_counter() - started, 1),
                      "quick": args.quick, "samples": n_samples, "elements": n_elements, "grid": f"{size} x {size}",
                      "cell_m": cell, "workers": args.workers, "gdal": gdal_version,
                      "ours_wall_s": round(ours_s, 2), "ours_cpu_s": round(ours_cpu, 2),
                      "gdal_wall_s": round(gdal_s, 2), "gdal_cpu_s": round(gdal_cpu, 2),
                      "wall_ratio": round(ratio, 2), "cpu_ratio": round(gdal_cpu / ours_cpu, 2),
                      "max_rel_diff": worst, "cells_filled_by_one": only_one, "peak_mib": round(peak_mib),
                      "load_end": round(os.getloadavg()[0], 2)}
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(record, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
