"""Snakemake adapter: comparison.csv/.md (paper Table 3) and per_network.csv (Table 4)."""


from pipeline.atomic import write_text
from pipeline.baselines.cnn import NOT_INCLUDED
from pipeline.evaluation.tables import (comparison_markdown, comparison_table, map_table, per_network_table,
                                        read_record, write_table)
from pipeline.runlog import logging_to
from pipeline.records import read_json


def main(smk):
    groups = {}
    for path in smk.input.runs:
        record = read_record(path)
        groups.setdefault(record["method"], []).append(record)
    families = {m: rs[0].get("family", "") for m, rs in groups.items()}
    comparison = comparison_table(groups, families)
    per_network = per_network_table([read_record(p) for p in smk.input.skt])
    maps = map_table({read_json(p)["map"]: read_json(p) for p in smk.input.maps})
    write_table(comparison, smk.output.csv)
    write_table(per_network, smk.output.per_network)
    write_text(smk.output.md, comparison_markdown(comparison, per_network, maps, NOT_INCLUDED))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
