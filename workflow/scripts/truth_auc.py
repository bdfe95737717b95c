"""Snakemake adapter for pipeline.evaluation.truth: every map against the known truth, beside the
references fixed before the test (the commodity element, and the element that ranks the paper split's
training sites highest)."""

import logging

import numpy as np
import pandas as pd

from pipeline.atomic import atomic_path
from pipeline.cv.references import reference_map_paths
from pipeline.cv.yardstick import COMMODITY, FAIR, NESTED, best_on_sites
from pipeline.evaluation.truth import truth_table
from pipeline.rasters import read_band
from pipeline.runlog import logging_to
from pipeline.survey_io import read_points
from pipeline.records import read_json

log = logging.getLogger("pipeline.evaluation")


def training_site_cells(sites_path, tiles_path, grid, area):
    """Rows and columns of the sites the paper split trains on: on the sampled area, above its split row."""
    sites = read_points(sites_path)
    rows, cols = grid.rowcol(sites["x"].to_numpy(), sites["y"].to_numpy())
    split_row = read_json(tiles_path)["split_row"]
    on = (rows >= 0) & (rows < min(split_row, grid.height)) & (cols >= 0) & (cols < grid.width)
    rows, cols = rows[on], cols[on]
    keep = area[rows, cols]
    return rows[keep], cols[keep]


def main(smk):
    density, grid = read_band(smk.input.density)
    area = np.isfinite(density)
    maps = dict(zip(smk.params.names, smk.input.maps))
    references = reference_map_paths(smk.input.rasters, smk.input.density, smk.input.anomaly)
    maps.update(references)
    rows, cols = training_site_cells(smk.input.sites, smk.input.tiles, grid, area)
    candidates = {n: read_band(p)[0] for n, p in references.items() if n.startswith("idw_") or n == "robust_anomaly"}
    chosen, train_auc = best_on_sites(candidates, area, rows, cols)
    log.info("reference_nested: %s (AUC %.3f on the %d training sites of the paper split)", chosen, train_auc,
             len(rows))
    maps[COMMODITY] = smk.input.commodity
    maps[NESTED] = references[chosen]
    table = truth_table(smk.input.truth, maps, area, grid)
    commodity = read_json(smk.input.commodity_info)["elements"]
    notes = {COMMODITY: f"declared commodity: {'+'.join(commodity)}",
             NESTED: f"{chosen}: ranks the {len(rows)} training sites highest (AUC {train_auc:.3f})"}
    stronger = table.set_index("method").loc[[COMMODITY, NESTED], "truth_auc"].idxmax()
    fair = table[table["method"] == stronger].copy()
    fair["method"] = FAIR
    notes[FAIR] = f"the stronger of the two: {stronger}"
    table = pd.concat([table, fair], ignore_index=True)
    table["note"] = [notes.get(m, "") for m in table["method"]]
    table = table.sort_values("truth_auc", ascending=False, ignore_index=True)
    for row in table.itertuples():
        log.info("%s: truth AUC %.3f (%d of %d cells without a value)", row.method, row.truth_auc, row.n_no_value,
                 row.n_cells)
    with atomic_path(smk.output.csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
