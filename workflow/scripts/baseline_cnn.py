"""Snakemake adapter: train one CNN baseline (pipeline.baselines.cnn.train_cnn) and write its run record."""

from pathlib import Path

from pipeline.atomic import write_json
from pipeline.baselines.cnn import adaptation_notes, train_cnn
from pipeline.evaluation.tables import metrics_record, run_record
from pipeline.runlog import logging_to


def main(smk):
    method, seed = smk.wildcards.method, int(smk.params.seed)
    summary, scores = train_cnn(Path(smk.input.tiles[0]).parent, method=method, width=smk.params.width,
                                train=smk.params.train, seed=seed, device=smk.params.device,
                                threads=smk.threads, model_path=smk.output.model,
                                checkpoint_path=smk.params.checkpoint, log_path=smk.output.log_csv,
                                progress=False)
    record = run_record(method, seed, metrics_record(scores["y"], scores["prob"][0]),
                        metrics_record(scores["y_paper"], scores["prob_paper"][0]), family="cnn",
                        form="window", notes=adaptation_notes(method, smk.params.width, summary.get("crop")),
                        **{k: v for k, v in summary.items() if k != "method"})
    write_json(smk.output.metrics, record)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
