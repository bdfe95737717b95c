"""Snakemake adapter: one fold's ensemble map (pipeline.cv.ensemble)."""

import logging
from pathlib import Path

import numpy as np

from pipeline.cv.ensemble import mean_rank
from pipeline.rasters import read_band, write_geotiff
from pipeline.runlog import logging_to

log = logging.getLogger("pipeline.cv")


def main(smk):
    density, grid = read_band(smk.input.density)
    members = [Path(p).parent.parent.name for p in smk.input.maps]
    out = mean_rank([read_band(p)[0] for p in smk.input.maps], np.isfinite(density))
    write_geotiff(smk.output.probability, out.astype(np.float32), grid, ["ensemble: mean area rank"],
                  tags={"method": "ensemble", "members": ",".join(members), "fold": smk.wildcards.fold})
    log.info("ensemble fold %s seed %s of %s", smk.wildcards.fold, smk.wildcards.seed, ", ".join(members))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
