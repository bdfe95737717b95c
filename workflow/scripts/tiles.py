"""Snakemake adapter for pipeline.tiles."""

import logging
from pathlib import Path

from pipeline.rasters import grid_of
from pipeline.runlog import logging_to
from pipeline.survey_io import outside_bounds, read_points, site_names
from pipeline.tiles import TileLayout, check_split_has_sites, resolve_split_row, write_tiles
from pipeline.window_plan import AUTO, core_side, median_spacing, resolve_window

log = logging.getLogger("pipeline.tiles")


def main(smk):
    opts = smk.params.tiles
    grid = grid_of(smk.input.stack)
    spacing = median_spacing(read_points(smk.input.samples).get_coordinates().to_numpy())
    window, stride = resolve_window(opts, spacing, grid.cell_size[0])
    if opts["window"] == AUTO or opts["stride"] == AUTO:
        log.info("tiles: window %d cells, stride %d (tiles.window %s, stride %s): %.1f median sample spacings of "
                 "%.0f m", window, stride, opts["window"], opts["stride"], window * grid.cell_size[0] / spacing,
                 spacing)
    sites = read_points(smk.input.sites)
    site_rows, site_cols = grid.rowcol(*sites.get_coordinates().to_numpy().T)
    site_rows = site_rows[(site_cols >= 0) & (site_cols < grid.width)]
    split_row = resolve_split_row(grid.height, window, opts["test_fraction"], opts["split_row"], site_rows)
    if opts["split_row"] == "auto":
        log.info("tiles: train/test boundary at row %d of %d (split_row auto: %.0f %% of the sites on the grid "
                 "below it)", split_row, grid.height, 100 * opts["test_fraction"])
    layout = TileLayout(window, stride, split_row, core_side(window, opts["label_core"]))
    summary = write_tiles(smk.input.stack, sites.get_coordinates().to_numpy(), layout,
                          Path(smk.output.windows).parent, min_valid_fraction=opts["min_valid_fraction"],
                          validity_band=opts["validity_band"], pu=opts, extra={"median_sample_spacing": spacing})
    for split, c in summary["counts"].items():
        log.info("%s: %d windows, %d with mines", split, c["windows"], c["with_mines"])
    log.info("tiles: %d of %d sites inside the grid; %d training and %d test windows (%d skipped)",
             summary["sites_inside_grid"], summary["sites_total"], summary["counts"]["train"]["windows"],
             summary["counts"]["test"]["windows"], summary["counts"]["skipped"]["windows"])
    if summary["sites_inside_grid"] < summary["sites_total"]:
        outside = outside_bounds(sites.get_coordinates().to_numpy(), grid.bounds)
        log.warning("%d of %d sites lie outside the grid: %s", summary["sites_total"] - summary["sites_inside_grid"],
                    summary["sites_total"], site_names(sites, outside))
    check_split_has_sites(summary)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
