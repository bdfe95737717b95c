"""Snakemake adapter for pipeline.qgis_style: the QGIS style sidecar of one probability or spread map."""

import logging

from pipeline.qgis_style import write_probability_style, write_spread_style
from pipeline.runlog import logging_to

log = logging.getLogger("pipeline.qgis_style")


def main(smk):
    given = dict(smk.input.items())
    if "spread" in given:
        path = write_spread_style(given["spread"], smk.output.style)
    else:
        path = write_probability_style(given["probability"], smk.output.style)
    log.info("QGIS style for %s -> %s", smk.input[0], path)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
