"""Snakemake adapter: every element raster z-scored into the cross-validation stack."""

import logging
from pathlib import Path

from pipeline.atomic import write_json
from pipeline.runlog import logging_to
from pipeline.stack import band_statistics, zscore_stack
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")


def main(smk):
    folder = Path(smk.input.rasters)
    names = read_json(folder / "rasters.json")["elements"]
    kept, skipped = [], []
    for name in names:
        path = folder / f"{name}.tif"
        try:
            constant = band_statistics(path)["std"] == 0
        except Exception:  # a raster with no valid cell
            constant = True
        (skipped if constant else kept).append(name)
    if skipped:
        log.info("left out of the stack, no spread over the grid: %s", ", ".join(skipped))
    opts = smk.params.stack
    stats = zscore_stack([folder / f"{n}.tif" for n in kept], kept, smk.output.stack, transform=opts["transform"],
                         scaling=opts["scaling"], fill=opts["fill"])
    write_json(smk.output.stats, {"elements": kept, "left_out_constant": skipped, "statistics": stats})


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
