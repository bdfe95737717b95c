"""Snakemake adapter for pipeline.skt.train.train_skt."""

from pathlib import Path

import pandas as pd

from pipeline.runlog import logging_to
from pipeline.skt.train import train_skt


def main(smk):
    table = pd.read_csv(smk.input.elements)
    zauc = dict(zip(table["element"], table["z_auc"]))
    train_skt(Path(smk.input.tiles[0]).parent, source_path=smk.input.source[0] if smk.input.source else None,
              skt=smk.params.skt, model=smk.params.model, train=smk.params.train, seed=smk.params.seed,
              device=smk.params.device, threads=smk.threads, zauc=zauc, model_path=smk.output.model,
              checkpoint_path=smk.params.checkpoint, log_path=smk.output.log_csv,
              metrics_path=smk.output.metrics)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
