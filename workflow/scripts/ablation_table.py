"""Snakemake adapter: ablation.csv/.md (paper Table 5)."""

from pipeline.atomic import write_text
from pipeline.evaluation.tables import ablation_markdown, ablation_table, read_record, write_table
from pipeline.runlog import logging_to


def main(smk):
    groups = {}
    for path in smk.input.runs:
        record = read_record(path)
        key = "skt" if record.get("study") == "skt" else record["variant"]
        groups.setdefault(key, []).append(record)
    table = ablation_table(groups)
    write_table(table, smk.output.csv)
    write_text(smk.output.md, ablation_markdown(table))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
