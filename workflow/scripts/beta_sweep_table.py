"""Snakemake adapter: beta_sweep.csv (paper Figure 6)."""

from pipeline.evaluation.tables import beta_sweep_table, read_record, write_table
from pipeline.runlog import logging_to


def main(smk):
    groups = {}
    for path in smk.input.runs:
        record = read_record(path)
        groups.setdefault(float(record["skt"]["beta"]), []).append(record)
    write_table(beta_sweep_table(groups), smk.output.csv)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
