"""Held-out-site AUC of a finished cross-validation's deep fold models when their
maps are painted on another share of the window (``predict.core``), paired with
the maps as the run painted them. Only prediction reruns: the fold models are
the run's own, so the difference is the painting's alone.

    python benchmarks/cv_repaint.py results/area6 --method skt --cores 0.75 0.5

For each core share, writes results/{dataset}/cv/repaint/{method}_core{share}/
(fold maps and the evaluation .json) and prints the held-out-site AUC and the
paired difference from the run's own evaluation (cluster bootstrap, 2000 draws,
as benchmarks/cv_readme_table.py --pairs). The run's own painting is
reproduced first (``--check``, on by default): its site scores must equal the
run's evaluation, or the script stops.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cv_readme_table import paired  # noqa: E402


def fold_models(results, method, seed, n_folds):
    name = "skt.pt" if method == "skt" else "model.pt"
    paths = [results / "cv" / "models" / method / f"seed{seed}" / f"fold{k}" / name for k in range(n_folds)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"no fold model at {missing[0]} (and {len(missing) - 1} more)")
    return paths


def paint(method, model, stack, out, *, core, overlap, threads):
    from pipeline.baselines.cnn import predict_cnn_map
    from pipeline.skt.predict import predict_map

    predict = predict_map if method == "skt" else predict_cnn_map
    predict(model, stack, out, overlap=overlap, device="cpu", threads=threads, core=core)


def evaluate(method, maps, plan, area, out_json):
    from pipeline.atomic import write_json
    from pipeline.cv.evaluate import evaluate_method
    from pipeline.evaluation.tables import json_safe

    record = evaluate_method(method, "trained", maps, plan, area, probability=True)
    write_json(out_json, json_safe(record))
    return float(np.mean([np.mean(s["score"]) for s in record["sites"]]))


def main():
    import rasterio

    from pipeline.rasters import read_band

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a dataset's results directory, e.g. results/area6")
    parser.add_argument("--method", default="skt", help="skt or a CNN baseline cross-validated in that run")
    parser.add_argument("--cores", type=float, nargs="+", default=[0.5])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-check", dest="check", action="store_false")
    args = parser.parse_args()
    results = Path(args.results)
    plan = json.loads((results / "cv" / "folds.json").read_text())
    own = results / "cv" / "evaluation" / f"{args.method}.json"
    area = np.isfinite(read_band(results / "maps" / "reference" / "sampling_density.tif")[0])
    stack = results / "cv" / "stack.tif"
    models = fold_models(results, args.method, args.seed, plan["n_folds"])
    with rasterio.open(results / "cv" / "maps" / args.method / f"seed{args.seed}" / "fold0.tif") as src:
        overlap = float(src.tags()["overlap"])       # the run's predict.overlap, kept for every painting
    own_auc = float(np.mean([np.mean(s["score"]) for s in json.loads(own.read_text())["sites"]]))
    print(f"{results.name} {args.method}: the run's own maps, held-out-site AUC {own_auc:.3f}", flush=True)
    shares = ([None] if args.check else []) + list(args.cores)
    for share in shares:
        tag = "as_run" if share is None else f"core{share:g}"
        work = results / "cv" / "repaint" / f"{args.method}_{tag}"
        (work / f"seed{args.seed}").mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        maps = {}
        for k, model in enumerate(models):
            maps[k] = work / f"seed{args.seed}" / f"fold{k}.tif"
            paint(args.method, model, stack, maps[k], core=share, overlap=overlap, threads=args.threads)
        auc = evaluate(args.method, {args.seed: maps}, plan, area, work / f"{args.method}.json")
        seconds = time.perf_counter() - t
        if share is None:
            if abs(auc - own_auc) > 1e-9:
                raise SystemExit(f"repainting as the run did gives {auc:.6f}, the run's evaluation {own_auc:.6f}: "
                                 "the models or the stack are not the run's")
            print(f"  as run: {auc:.3f} (reproduced; {seconds:.0f} s)", flush=True)
            continue
        diff, lo, hi = paired(results / "cv" / "evaluation", str(work / f"{args.method}.json"), str(own))
        print(f"  core {share:g}: {auc:.3f}; minus the run's own maps {diff:+.3f} [{lo:+.3f}, {hi:+.3f}] "
              f"({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
