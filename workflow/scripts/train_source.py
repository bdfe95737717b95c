"""Snakemake adapter for pipeline.skt.train.train_source."""

from pathlib import Path

from pipeline.runlog import logging_to
from pipeline.skt.train import train_source
from pipeline.records import read_json


def main(smk):
    # source.task datasets: the pool holds every element of the stack; the source sees this dataset's
    elements = read_json(smk.input.target[0])["elements"] if smk.input.target else None
    train_source(Path(smk.input.tiles[0]).parent, source=smk.params.source, model=smk.params.model,
                 train=smk.params.train, seed=smk.params.seed, device=smk.params.device,
                 threads=smk.threads, model_path=smk.output.model, checkpoint_path=smk.params.checkpoint,
                 log_path=smk.output.log_csv, metrics_path=smk.output.metrics, elements=elements)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
