"""Snakemake adapter for pipeline.baselines.cnn.predict_cnn_map."""

from pipeline.baselines.cnn import predict_cnn_map
from pipeline.runlog import logging_to


def main(smk):
    opts = smk.params.predict
    predict_cnn_map(smk.input.model, smk.input.stack, smk.output.probability, overlap=opts["overlap"],
                    batch_size=opts["batch_size"], device=smk.params.device, threads=smk.threads,
                    amp=smk.params.amp, core=opts["core"])


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
