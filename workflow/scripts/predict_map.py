"""Snakemake adapter for pipeline.skt.predict.predict_map."""

from pipeline.runlog import logging_to
from pipeline.skt.predict import predict_map


def main(smk):
    opts = smk.params.predict
    predict_map(smk.input.model, smk.input.stack, smk.output.probability, overlap=opts["overlap"],
                batch_size=opts["batch_size"], device=smk.params.device, threads=smk.threads,
                amp=smk.params.train["amp"], core=opts["core"])


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
