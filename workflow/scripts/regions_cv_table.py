"""Snakemake adapter: cross-validated held-out-site scores of every region side by side."""

import pandas as pd

from pipeline.atomic import atomic_path, write_text
from pipeline.cv.tables import cross_survey_markdown, cross_survey_table
from pipeline.runlog import logging_to


def main(smk):
    summaries = {name: pd.read_csv(path) for name, path in zip(smk.params.regions, smk.input.summaries)}
    table = cross_survey_table(summaries)
    with atomic_path(smk.output.csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    write_text(smk.output.md, cross_survey_markdown(table, list(summaries)))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
