"""Snakemake adapter: the reference maps that need no training (pipeline.cv.references)."""

import logging
from pathlib import Path

import numpy as np

from pipeline.atomic import write_json
from pipeline.cv.references import robust_anomaly_map, sampled_area, sampling_density_map
from pipeline.rasters import read_band, write_geotiff
from pipeline.runlog import logging_to
from pipeline.survey_io import element_columns, read_points

log = logging.getLogger("pipeline.cv")


def main(smk):
    samples = read_points(smk.input.samples)
    xy = samples[["x", "y"]].to_numpy()
    names = [n for n in element_columns(samples) if (Path(smk.input.rasters) / f"{n}.tif").exists()]
    bands, grid = [], None
    for name in names:
        band, grid = read_band(Path(smk.input.rasters) / f"{name}.tif")
        bands.append(band)
    area = sampled_area(grid, xy, smk.params.max_distance)
    density = sampling_density_map(grid, xy, smk.params.density_k, area)
    write_geotiff(smk.output.density, density, grid, ["sampling density (minus mean distance to nearest samples, m)"],
                  tags={"method": "sampling geometry", "k": smk.params.density_k})
    anomaly, used, dropped = robust_anomaly_map(np.stack(bands), names, area, seed=smk.params.seed)
    write_geotiff(smk.output.anomaly, anomaly, grid, ["robust Mahalanobis distance (log10 values)"],
                  tags={"method": "MCD robust Mahalanobis distance", "elements": ",".join(used)})
    log.info("sampled area: %d of %d cells; robust anomaly from %d elements (left out, no spread: %s)",
             int(area.sum()), area.size, len(used), ", ".join(dropped) or "none")
    write_json(smk.output.info, {"area_cells": int(area.sum()), "density_k": smk.params.density_k,
                                 "anomaly_elements": used, "anomaly_elements_dropped": dropped})


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
