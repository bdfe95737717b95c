"""Snakemake adapter: one trained method in one fold (pipeline.cv.models)."""

import logging
from pathlib import Path

import pandas as pd

from pipeline.methods import fold_fitter, kind
from pipeline.runlog import logging_to
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")


def main(smk):
    method, fold, seed = smk.wildcards.method, int(smk.wildcards.fold), int(smk.params.seed)
    plan = read_json(smk.input.plan)
    table = pd.read_csv(smk.input.elements)
    elements = list(table.loc[table["selected"], "element"])
    b = smk.params.baselines
    out = smk.output.probability
    fit, method_kind = fold_fitter(method), kind(method)   # the registry's (pipeline.methods)
    if method_kind == "pixel":
        counts = fit(method[:-len("_pixel")], smk.input.stack, elements, plan, fold, out,
                     label_distance=float(smk.params.label_distance), buffer=plan["buffer"], seed=seed,
                     balance=b["pixel_balance"], max_samples=b["pixel_max_samples"], n_jobs=smk.threads)
    elif method_kind == "window":
        counts = fit(method, Path(smk.input.tiles[0]).parent, elements, plan, fold, out,
                     buffer=plan["buffer"], seed=seed, balance=b["window_balance"],
                     noise_variance=smk.params.noise_variance, pool=b["window_pool"],
                     max_features=b["max_features"], n_jobs=smk.threads, pu=smk.params.tiles,
                     core=smk.params.predict["core"])
    else:  # network, skt
        counts = fit(method, Path(smk.input.tiles[0]).parent, smk.input.stack, elements, plan, fold, out,
                     buffer=plan["buffer"], train=smk.params.train, model=smk.params.model,
                     skt=smk.params.skt, source=smk.params.source, width=b["cnn_width"], seed=seed,
                     device=smk.params.device, threads=smk.threads, predict=smk.params.predict,
                     work_dir=smk.params.work, zauc=dict(zip(table["element"], table["z_auc"])),
                     pu=smk.params.tiles,
                     source_pool=Path(smk.input.source_pool[0]).parent if smk.input.source_pool else None)
    log.info("%s fold %d seed %d on %s: %s", method, fold, seed, ", ".join(elements), counts)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
