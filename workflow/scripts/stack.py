"""Snakemake adapter for pipeline.stack."""

import logging
from pathlib import Path

import pandas as pd

from pipeline.atomic import write_json
from pipeline.runlog import logging_to
from pipeline.stack import zscore_stack

log = logging.getLogger("pipeline.stack")


def main(smk):
    table = pd.read_csv(smk.input.elements)
    names = list(table.loc[table["selected"], "element"])
    paths = [Path(smk.input.rasters) / f"{n}.tif" for n in names]
    stats = zscore_stack(paths, names, smk.output.stack)
    for name, s in stats.items():
        log.info("%s: mean %.4g, std %.4g over %d cells", name, s["mean"], s["std"], s["n_valid"])
    write_json(smk.output.stats, {"elements": names, "statistics": stats})


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
