"""Snakemake adapter: held-out-site scores of the reference maps (no training), the commodity map among them."""

import logging

import numpy as np

from pipeline.atomic import write_json
from pipeline.cv.evaluate import evaluate_method, evaluation_setting
from pipeline.cv.references import reference_map_paths
from pipeline.cv.yardstick import COMMODITY
from pipeline.evaluation.tables import json_safe
from pipeline.runlog import logging_to
from pipeline.window_plan import resolved_tiles
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")


def main(smk):
    plan = read_json(smk.input.plan)
    tiles = resolved_tiles(smk.params.tiles, plan)
    area, index, _ = evaluation_setting(smk.input.density, tiles)
    maps = reference_map_paths(smk.input.rasters, smk.input.density, smk.input.anomaly)
    maps[COMMODITY] = smk.input.commodity   # fixed before the test: evaluate.commodity
    records = []
    for name, path in maps.items():
        same = {0: {f: path for f in range(plan["n_folds"])}}
        rec = evaluate_method(name, "reference", same, plan, area, window_index=index, window=tiles["window"],
                              buffer=plan["buffer"], probability=False)
        records.append(rec)
        log.info("%s: held-out-site AUC %.3f", name, float(np.mean([s["score"][0] for s in rec["sites"]])))
    write_json(smk.output.record, json_safe(records))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
