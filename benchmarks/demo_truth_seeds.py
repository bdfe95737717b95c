"""The demo's known answer over seeds: SKT, ResNet-18 and the per-pixel random
forest retrained with several seeds on a finished demo's stack and tiles, each
map ranked against data/demo/truth.tif (pipeline.evaluation.truth), with the
reference maps beside them (they do not depend on the seed).

    .venv/bin/snakemake --cores 2 --resources gpu=1 results/demo/tables/truth_auc.csv
    .venv/bin/python benchmarks/demo_truth_seeds.py --seeds 42 43 44 [--config config.yaml]

Writes results/demo/tables/truth_auc_seeds.csv (one row per method and seed)
and prints mean and standard deviation (ddof 1) per method.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent


def main():
    from pipeline.baselines.classical import fit_pixel_baseline, predict_stack, read_index
    from pipeline.baselines.cnn import predict_cnn_map, train_cnn
    from pipeline.config import dataset_config, load_config
    from pipeline.cv.references import reference_map_paths
    from pipeline.evaluation.truth import truth_table
    from pipeline.rasters import read_band
    from pipeline.skt.predict import predict_map
    from pipeline.skt.train import train_skt, train_source
    from pipeline.survey_io import read_points

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--config", default=str(REPO / "config.yaml"))
    parser.add_argument("--results", default="results/demo")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--source-task", choices=["self", "pretrain"], default=None,
                        help="override source.task (SKT only is rerun then: --skt-only)")
    parser.add_argument("--skt-only", action="store_true")
    parser.add_argument("--out", default="truth_auc_seeds.csv", help="file name under results/demo/tables")
    parser.add_argument("--cores", type=float, nargs="+", default=[],
                        help="also paint SKT's and ResNet-18's maps on these shares of the window (predict.core), "
                             "as methods skt_core{share} and resnet18_core{share}")
    args = parser.parse_args()
    config = load_config(args.config)
    view = dataset_config(config, "demo")
    if args.source_task:
        view["source"]["task"] = args.source_task
    results = Path(args.results)
    work = results / f"truth_seeds_{view['source']['task']}"
    stack, tiles = results / "stack" / "zscore.tif", results / "tiles"
    screening = pd.read_csv(results / "screening" / "elements.csv")
    zauc = dict(zip(screening["element"], screening["z_auc"]))
    density, grid = read_band(results / "maps" / "reference" / "sampling_density.tif")
    area = np.isfinite(density)
    truth = REPO / config["datasets"]["demo"]["truth"]
    index = read_index(tiles / "index.csv")
    sites = read_points(results / "prepare" / "sites.gpkg").get_coordinates().to_numpy()
    rows = []
    for seed in args.seeds:
        out = work / f"seed{seed}"
        out.mkdir(parents=True, exist_ok=True)
        maps, seconds = {}, {}
        t = time.perf_counter()
        train_source(tiles, source=view["source"], model=view["model"], train=view["train"], seed=seed,
                     device="cpu", threads=args.threads, model_path=out / "source.pt", progress=False)
        train_skt(tiles, source_path=out / "source.pt", skt=view["skt"], model=view["model"], train=view["train"],
                  seed=seed, device="cpu", threads=args.threads, zauc=zauc, model_path=out / "skt.pt",
                  progress=False)
        predict_map(out / "skt.pt", stack, out / "skt.tif", overlap=view["predict"]["overlap"], device="cpu",
                    threads=args.threads, core=view["predict"]["core"])
        maps["skt"], seconds["skt"] = out / "skt.tif", time.perf_counter() - t
        for share in args.cores:
            maps[f"skt_core{share:g}"] = out / f"skt_core{share:g}.tif"
            predict_map(out / "skt.pt", stack, maps[f"skt_core{share:g}"], overlap=view["predict"]["overlap"],
                        device="cpu", threads=args.threads, core=share)
        if args.skt_only:
            table = truth_table(truth, maps, area, grid)
            table["seed"], table["seconds"], table["source_task"] = seed, table["method"].map(seconds), \
                view["source"]["task"]
            rows.append(table)
            print(table[["method", "seed", "truth_auc", "seconds"]].to_string(index=False), flush=True)
            continue
        t = time.perf_counter()
        train_cnn(tiles, method="resnet18", width=view["baselines"]["cnn_width"], train=view["train"], seed=seed,
                  device="cpu", threads=args.threads, model_path=out / "resnet18.pt", progress=False)
        predict_cnn_map(out / "resnet18.pt", stack, out / "resnet18.tif", overlap=view["predict"]["overlap"],
                        device="cpu", threads=args.threads, core=view["predict"]["core"])
        maps["resnet18"], seconds["resnet18"] = out / "resnet18.tif", time.perf_counter() - t
        for share in args.cores:
            maps[f"resnet18_core{share:g}"] = out / f"resnet18_core{share:g}.tif"
            predict_cnn_map(out / "resnet18.pt", stack, maps[f"resnet18_core{share:g}"],
                            overlap=view["predict"]["overlap"], device="cpu", threads=args.threads, core=share)
        t = time.perf_counter()
        model = fit_pixel_baseline("random_forest", stack, index, sites, window=int(view["tiles"]["window"]),
                                   label_distance=float(view["screen"]["label_radius"]),
                                   max_samples=view["baselines"]["pixel_max_samples"],
                                   balance=view["baselines"]["pixel_balance"], seed=seed, n_jobs=args.threads)
        predict_stack(model, stack, out / "random_forest_pixel.tif")
        maps["random_forest_pixel"] = out / "random_forest_pixel.tif"
        seconds["random_forest_pixel"] = time.perf_counter() - t
        table = truth_table(truth, maps, area, grid)
        table["seed"], table["seconds"] = seed, table["method"].map(seconds)
        rows.append(table)
        print(table[["method", "seed", "truth_auc", "seconds"]].to_string(index=False), flush=True)
    refs = truth_table(truth, reference_map_paths(results / "rasters",
                                                  results / "maps" / "reference" / "sampling_density.tif",
                                                  results / "maps" / "reference" / "robust_anomaly.tif"), area, grid)
    frame = pd.concat(rows + [refs.assign(seed=np.nan, seconds=np.nan)], ignore_index=True)
    frame.to_csv(results / "tables" / args.out, index=False, float_format="%.6g")
    summary = frame.groupby("method", sort=False)["truth_auc"].agg(["mean", "std", "count"])
    print(summary.sort_values("mean", ascending=False).head(12).to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
