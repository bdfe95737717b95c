"""Snakemake adapter: held-out-site scores of one trained method (pipeline.cv.evaluate)."""

import logging
import re

import numpy as np

from pipeline.atomic import write_json
from pipeline.cv.evaluate import evaluate_method, evaluation_setting
from pipeline.evaluation.tables import json_safe
from pipeline.runlog import logging_to
from pipeline.window_plan import resolved_tiles
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")


def fold_maps_by_seed(paths):
    """{seed: {fold: path}} from paths .../seed{S}/fold{K}.tif"""
    out = {}
    for path in paths:
        m = re.search(r"seed(\d+)/fold(\d+)\.tif$", str(path))
        out.setdefault(int(m.group(1)), {})[int(m.group(2))] = str(path)
    return out


def main(smk):
    plan = read_json(smk.input.plan)
    tiles = resolved_tiles(smk.params.tiles, plan)
    area, index, _ = evaluation_setting(smk.input.density, tiles)
    record = evaluate_method(smk.wildcards.method, "trained", fold_maps_by_seed(smk.input.maps), plan, area,
                             window_index=index, window=tiles["window"], buffer=plan["buffer"],
                             probability=True)
    scores = [np.mean(s["score"]) for s in record["sites"]]
    log.info("%s: held-out-site AUC %.3f over %d sites", smk.wildcards.method, float(np.mean(scores)), len(scores))
    write_json(smk.output.record, json_safe(record))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
