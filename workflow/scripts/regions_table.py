"""Snakemake adapter: results/regions/comparison.csv/.md, methods across regions."""

from pipeline.atomic import write_text
from pipeline.evaluation.regions import regions_markdown, regions_table
from pipeline.evaluation.tables import write_table
from pipeline.runlog import logging_to


def main(smk):
    regions = list(smk.params.regions)
    table = regions_table(dict(zip(regions, smk.input.comparisons)), dict(zip(regions, smk.input.maps)))
    write_table(table, smk.output.csv)
    write_text(smk.output.md, regions_markdown(table))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
