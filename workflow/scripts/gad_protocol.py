"""Snakemake adapter: the published GeoChemAD / OpenGADBench protocol for every map, for comparison only."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.atomic import atomic_path, write_text
from pipeline.cv.references import reference_map_paths
from pipeline.cv.scores import gad_auc, gad_samples
from pipeline.cv.tables import method_label
from pipeline.rasters import read_band
from pipeline.runlog import logging_to
from pipeline.survey_io import read_points
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")

NOTE = ("The published GeoChemAD / OpenGADBench protocol: positives are the sample nearest to each site, negatives "
        "32 draws with replacement from the samples at least 5 km from every site, 20 runs from "
        "numpy.random.default_rng(42); mean and std of the ROC AUC. Reference maps use every site; trained maps "
        "use each held-out site with the map of the fold that held it out, and the fold-mean value at the "
        "negatives. It says how samples next to known sites compare with far-away ones, which sampling density "
        "alone can separate (see its row); it says nothing of how well a map ranks unseen ground, and it is no "
        "substitute for cv_summary.")


def values_at(path, rows, cols, inside):
    band, _ = read_band(path)
    out = np.full(len(rows), np.nan)
    out[inside] = band[rows[inside], cols[inside]]
    return out


def main(smk):
    samples = read_points(smk.input.samples)
    sites = read_points(smk.input.sites)
    plan = read_json(smk.input.plan)
    xy = samples[["x", "y"]].to_numpy()
    _, grid = read_band(smk.input.density)
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    inside = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
    nearest, pool = gad_samples(xy, sites[["x", "y"]].to_numpy())
    out = []
    maps = reference_map_paths(smk.input.rasters, smk.input.density, smk.input.anomaly)
    for name, path in maps.items():
        v = values_at(path, rows, cols, inside)
        mean, std = gad_auc(v[nearest], v[pool])
        out.append({"method": name, "kind": "reference", "gad_auc": mean, "gad_std": std,
                    "n_positives": int(len(nearest)), "n_negative_pool": int(len(pool))})
    held = {}
    for s in plan["sites"]:
        if s["status"] == "scored" and s["fold"] >= 0:
            held.setdefault(s["fold"], []).append([s["x"], s["y"]])
    for path in smk.input.records:
        data = read_json(path)
        for rec in data if isinstance(data, list) else [data]:
            if rec["kind"] == "reference":
                continue
            aucs = []
            for seed, folds in rec["maps"].items():
                fold_values = {int(f): values_at(p, rows, cols, inside) for f, p in folds.items()}
                positives = []
                for f, site_xy in held.items():
                    idx, _ = gad_samples(xy, np.array(site_xy))
                    positives.append(fold_values[f][idx])
                negatives = np.mean([v[pool] for v in fold_values.values()], axis=0)
                aucs.append(gad_auc(np.concatenate(positives), negatives))
            out.append({"method": rec["method"], "kind": rec["kind"], "gad_auc": float(np.mean([a[0] for a in aucs])),
                        "gad_std": float(np.mean([a[1] for a in aucs])),
                        "n_positives": int(sum(len(v) for v in held.values())), "n_negative_pool": int(len(pool))})
    table = pd.DataFrame(out)
    table.insert(1, "label", [method_label(m) for m in table["method"]])
    table = table.sort_values("gad_auc", ascending=False, kind="stable")
    with atomic_path(smk.output.csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    if len(pool) == 0:
        log.warning("no sample lies 5 km from every site: the published protocol has no negatives here")
    empty = ([f"Undefined for this survey: no sample lies 5 km or more from every site (the survey spans "
              f"{np.ptp(xy[:, 0]) / 1000:.1f} x {np.ptp(xy[:, 1]) / 1000:.1f} km), so there are no negatives.", ""]
             if len(pool) == 0 else [])
    lines = ["# Published GeoChemAD protocol (for comparison only)", "", NOTE, "", *empty,
             "| Method | Kind | AUC (mean ± std over 20 runs) | Positives | Negative pool |", "|---|---|---|---|---|"]
    lines += [f"| {r.label} | {r.kind} | {r.gad_auc:.3f} ± {r.gad_std:.3f} | {r.n_positives} | {r.n_negative_pool} |"
              for r in table.itertuples()]
    write_text(Path(smk.output.csv).with_suffix(".md"), "\n".join(lines) + "\n")


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
