"""Snakemake adapter: cluster the sites and plan the folds (pipeline.cv.folds)."""

import logging

import numpy as np

from pipeline.atomic import write_json
from pipeline.cv.folds import OUTSIDE_AREA, OUTSIDE_GRID, make_folds, site_names, site_status
from pipeline.rasters import read_band
from pipeline.runlog import logging_to
from pipeline.survey_io import read_points
from pipeline.window_plan import median_spacing, resolve_window

log = logging.getLogger("pipeline.cv")


def main(smk):
    opts = smk.params.cv
    density, grid = read_band(smk.input.density)
    sites = read_points(smk.input.sites)
    xy = sites[["x", "y"]].to_numpy()
    status = site_status(grid, xy, np.isfinite(density))
    spacing = median_spacing(read_points(smk.input.samples).get_coordinates().to_numpy())
    window, stride = resolve_window(smk.params.tiles, spacing, grid.cell_size[0])
    # one window width unless set: a window model's training window must not overlap a held-out site
    buffer = opts["buffer"] if opts["buffer"] is not None else float(window) * max(grid.cell_size)
    plan = make_folds(xy, site_names(sites), status, cluster_distance=opts["cluster_distance"],
                      folds=opts["folds"], max_folds=opts["max_folds"], seed=smk.params.seed, buffer=buffer)
    for kind, what in ((OUTSIDE_GRID, "outside the grid"), (OUTSIDE_AREA, "on the grid but far from every sample")):
        names = [s["name"] for s in plan["sites"] if s["status"] == kind]
        if names:
            log.warning("%d of %d sites lie %s and are not scored: %s%s", len(names), plan["n_sites"], what,
                        ", ".join(names[:5]), " ..." if len(names) > 5 else "")
    log.info("%d sites in %d clusters at %.0f m; %d folds, buffer %.0f m", plan["n_sites"], plan["n_clusters"],
             plan["cluster_distance"], plan["n_folds"], buffer)
    plan.update(window=window, stride=stride)      # as the cross-validation tiles resolve them
    write_json(smk.output.plan, plan)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
