"""Snakemake adapter: windows over the whole cross-validation stack (pipeline.tiles)."""

import logging
from pathlib import Path

from pipeline.rasters import grid_of
from pipeline.runlog import logging_to
from pipeline.survey_io import read_points
from pipeline.tiles import TileLayout, write_tiles
from pipeline.window_plan import core_side, median_spacing, resolve_window

log = logging.getLogger("pipeline.cv")


def main(smk):
    opts = smk.params.tiles
    grid = grid_of(smk.input.stack)
    spacing = median_spacing(read_points(smk.input.samples).get_coordinates().to_numpy())
    window, stride = resolve_window(opts, spacing, grid.cell_size[0])
    # the boundary at the grid's last row: every window is in one part, folds assign the roles
    layout = TileLayout(window, stride, grid.height, core_side(window, opts["label_core"]))
    sites = read_points(smk.input.sites)
    summary = write_tiles(smk.input.stack, sites.get_coordinates().to_numpy(), layout,
                          Path(smk.output.windows).parent, min_valid_fraction=opts["min_valid_fraction"],
                          validity_band=opts["validity_band"], extra={"median_sample_spacing": spacing})
    log.info("%d windows kept, %d with sites; %d skipped", summary["counts"]["train"]["windows"],
             summary["counts"]["train"]["with_mines"], summary["counts"]["skipped"]["windows"])


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
