"""Snakemake adapter for pipeline.evaluation.truth."""

import logging

import numpy as np

from pipeline.atomic import atomic_path
from pipeline.cv.references import reference_map_paths
from pipeline.evaluation.truth import truth_table
from pipeline.rasters import read_band
from pipeline.runlog import logging_to

log = logging.getLogger("pipeline.evaluation")


def main(smk):
    density, grid = read_band(smk.input.density)
    maps = dict(zip(smk.params.names, smk.input.maps))
    maps.update(reference_map_paths(smk.input.rasters, smk.input.density, smk.input.anomaly))
    table = truth_table(smk.input.truth, maps, np.isfinite(density), grid)
    table = table.sort_values("truth_auc", ascending=False, ignore_index=True)
    for row in table.itertuples():
        log.info("%s: truth AUC %.3f (%d of %d cells without a value)", row.method, row.truth_auc, row.n_no_value,
                 row.n_cells)
    with atomic_path(smk.output.csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
