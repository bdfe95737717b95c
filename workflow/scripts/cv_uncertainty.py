"""Snakemake adapter: the spread map of one trained method's fold models (pipeline.cv.uncertainty)."""

import logging

from pipeline.cv.uncertainty import spread_map
from pipeline.runlog import logging_to

log = logging.getLogger("pipeline.cv")


def main(smk):
    summary = spread_map(list(smk.input.maps), smk.output.spread, method=smk.wildcards.method)
    log.info("%s: spread over %d fold models (seeds %s, folds %s) on %d cells, largest %.3f -> %s",
             summary["method"], summary["n_models"], summary["seeds"], summary["folds"], summary["cells"],
             summary["max_spread"], summary["path"])


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
