"""Snakemake adapter for pipeline.source_pool (source.task: datasets)."""

from pathlib import Path

from pipeline.runlog import logging_to
from pipeline.source_pool import pool_source_windows
from pipeline.survey_io import read_points
from pipeline.records import read_json


def main(smk):
    target = read_json(smk.input.target_tiles)
    elements = read_json(smk.input.target_stack)["elements"]
    surveys = [(name, stack, read_points(sites).get_coordinates().to_numpy())
               for name, stack, sites in zip(smk.params.datasets, smk.input.stacks, smk.input.sites)]
    opts = smk.params.tiles
    pool_source_windows(surveys, elements, Path(smk.output.windows).parent, window=target["window"],
                        stride=target["stride"], label_core=target.get("label_core"),
                        test_fraction=opts["test_fraction"], min_valid_fraction=opts["min_valid_fraction"],
                        validity_band=target.get("validity_band", False), pu=opts)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
