"""Snakemake adapter for pipeline.config.write_effective_config."""

from pipeline.config import write_effective_config
from pipeline.runlog import logging_to


def main(smk):
    write_effective_config(smk.params.view, smk.output.config, dataset=smk.wildcards.dataset)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
