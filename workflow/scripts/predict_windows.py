"""Snakemake adapter for pipeline.skt.predict.predict_tiles."""

from pathlib import Path

from pipeline.runlog import logging_to
from pipeline.skt.predict import predict_tiles


def main(smk):
    predict_tiles(smk.input.model, Path(smk.input.tiles[0]).parent, smk.output.windows,
                  batch_size=smk.params.predict["batch_size"], device=smk.params.device,
                  threads=smk.threads, amp=smk.params.train["amp"])


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
