"""Snakemake adapter for pipeline.report.scores: tables/test_window_scores.csv, the test windows' labels and
scores that the report's ROC figure reads."""

from pipeline.report.scores import write_window_scores
from pipeline.runlog import logging_to


def main(smk):
    maps = {k[len("dense_"):]: v for k, v in smk.input.items() if k.startswith("dense_")}
    write_window_scores(smk.output.csv, windows=smk.input.windows, tiles_index=smk.input.tiles_index,
                        tiles_meta=smk.input.tiles_meta, dense_maps=maps, reduce=smk.params.reduce)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
