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
    opts = smk.params.stack
    stats = zscore_stack(paths, names, smk.output.stack, transform=opts["transform"], scaling=opts["scaling"],
                         fill=opts["fill"])
    log.info("stack: %s transform, %s scaling, nodata filled with the band %s", opts["transform"], opts["scaling"],
             opts["fill"])
    for name, s in stats.items():
        log.info("%s: centre %.4g, scale %.4g, fill %.3g over %d cells (%d raised to the log floor)", name,
                 s["centre"], s["scale"], s["fill"], s["n_valid"], s["n_raised_to_floor"])
    write_json(smk.output.stats, {"elements": names, "statistics": stats})


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
