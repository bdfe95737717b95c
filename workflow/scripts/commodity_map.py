"""Snakemake adapter: the commodity reference map (pipeline.cv.commodity)."""

import logging
from pathlib import Path

import numpy as np

from pipeline.atomic import write_json
from pipeline.cv.commodity import commodity_map, match_rasters, resolve_commodity
from pipeline.rasters import read_band, write_geotiff
from pipeline.runlog import logging_to
from pipeline.survey_io import read_points
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")


def main(smk):
    folder = Path(smk.input.rasters)
    available = read_json(folder / "rasters.json")["elements"]
    sites = read_points(smk.input.sites)
    elements, reason = resolve_commodity(smk.params.commodity, sites, smk.params.column)
    elements = match_rasters(elements, available)
    density, grid = read_band(smk.input.density)
    area = np.isfinite(density)
    bands = np.stack([read_band(folder / f"{e}.tif")[0] for e in elements])
    out = commodity_map(bands, area)
    label = "+".join(elements)
    write_geotiff(smk.output.map, out, grid, [f"commodity reference: {label} (mean rank in the sampled area)"],
                  tags={"method": "reference_commodity", "elements": ",".join(elements), "reason": reason})
    log.info("reference_commodity: %s, %s", label, reason)
    write_json(smk.output.info, {"elements": elements, "reason": reason})


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
