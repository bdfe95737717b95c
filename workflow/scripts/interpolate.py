"""Snakemake adapter for pipeline.idw."""

import logging
from pathlib import Path

from pipeline.atomic import write_json
from pipeline.grid import grid_from_settings
from pipeline.idw import interpolate_to_geotiffs
from pipeline.runlog import logging_to
from pipeline.survey_io import element_columns, read_points

log = logging.getLogger("pipeline.interpolate")


def main(smk):
    opts = smk.params.interpolate
    samples = read_points(smk.input.samples)
    # every element, not only the screened ones: interpolation is unsupervised, the
    # rasters are reference maps in their own right, and cross-validation folds
    # select their own elements from them
    names = element_columns(samples)
    grid = grid_from_settings(samples.crs.to_string(), samples.total_bounds, extent=opts["extent"],
                              cell_size=opts["cell_size"], width=opts["width"], height=opts["height"],
                              padding=opts["padding"])
    log.info("grid %d x %d cells of %.1f m in %s; elements %s", grid.width, grid.height,
             grid.cell_size[0], grid.crs, ", ".join(names))
    out_dir = Path(smk.output.rasters)
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = interpolate_to_geotiffs(
        samples[["x", "y"]].to_numpy(), samples[names].to_numpy(dtype=float), names, grid,
        [out_dir / f"{n}.tif" for n in names], power=opts["power"], n_neighbors=opts["n_neighbors"],
        search_radius=opts["search_radius"], max_distance=opts["max_distance"],
        block_rows=opts["block_rows"], workers=smk.threads)
    write_json(out_dir / "rasters.json", {"grid": grid.to_dict(), "elements": names,
                                          "settings": opts, "stats": stats})


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
