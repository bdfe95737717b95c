"""Snakemake adapter: held-out-site scores of the reference maps (no training)."""

import json
import logging
from pathlib import Path

import numpy as np

from pipeline.atomic import write_json
from pipeline.cv.evaluate import evaluate_method, evaluation_setting
from pipeline.evaluation.tables import json_safe
from pipeline.runlog import logging_to

log = logging.getLogger("pipeline.cv")


def main(smk):
    plan = json.loads(open(smk.input.plan).read())
    tiles = smk.params.tiles
    area, index, _ = evaluation_setting(smk.input.density, tiles)
    maps = {"sampling_density": smk.input.density, "robust_anomaly": smk.input.anomaly}
    elements = json.loads((Path(smk.input.rasters) / "rasters.json").read_text())["elements"]
    maps.update({f"idw_{e}": str(Path(smk.input.rasters) / f"{e}.tif") for e in elements})
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
