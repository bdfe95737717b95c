"""Snakemake adapter: windows over the whole cross-validation stack (pipeline.tiles)."""

import logging
from pathlib import Path

from pipeline.rasters import grid_of
from pipeline.runlog import logging_to
from pipeline.survey_io import read_points
from pipeline.tiles import TileLayout, core_side, write_tiles

log = logging.getLogger("pipeline.cv")


def main(smk):
    opts = smk.params.tiles
    grid = grid_of(smk.input.stack)
    # the boundary at the grid's last row: every window is in one part, folds assign the roles
    layout = TileLayout(opts["window"], opts["stride"], grid.height, core_side(opts["window"], opts["label_core"]))
    sites = read_points(smk.input.sites)
    summary = write_tiles(smk.input.stack, sites.get_coordinates().to_numpy(), layout,
                          Path(smk.output.windows).parent, min_valid_fraction=opts["min_valid_fraction"],
                          validity_band=opts["validity_band"])
    log.info("%d windows kept, %d with sites; %d skipped", summary["counts"]["train"]["windows"],
             summary["counts"]["train"]["with_mines"], summary["counts"]["skipped"]["windows"])


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
