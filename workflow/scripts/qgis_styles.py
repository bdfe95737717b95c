"""Snakemake adapter for pipeline.qgis_style: the QGIS style sidecar of one probability map."""

import logging

from pipeline.qgis_style import write_probability_style
from pipeline.runlog import logging_to

log = logging.getLogger("pipeline.qgis_style")


def main(smk):
    path = write_probability_style(smk.input.probability, smk.output.style)
    log.info("QGIS style for %s -> %s", smk.input.probability, path)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
