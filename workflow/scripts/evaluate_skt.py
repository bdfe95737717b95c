"""Snakemake adapter: score one SKT model on the test windows with the evaluation metrics."""

import logging
from pathlib import Path

from pipeline.atomic import write_json
from pipeline.baselines.cnn import score_windows
from pipeline.evaluation.tables import metrics_record, run_record
from pipeline.nets.device import resolve_device, set_threads
from pipeline.nets.metrics import vote
from pipeline.nets.tileset import load_tiles
from pipeline.runlog import logging_to
from pipeline.skt.files import load_skt

log = logging.getLogger("pipeline.evaluation")


def per_network(names, y, prob):
    """Metrics of each target network (threshold 0.5) and of the vote (majority, mean probability)."""
    out = {name: metrics_record(y, p) for name, p in zip(names, prob)}
    classes, mean = vote(prob)
    out["vote"] = metrics_record(y, mean, y_pred=classes)
    return out


def main(smk):
    seed = int(smk.params.seed)
    model, info = load_skt(smk.input.model)
    tiles = load_tiles(Path(smk.input.tiles[0]).parent)
    device = resolve_device(smk.params.device)
    set_threads(smk.threads)
    scores = score_windows(model, tiles, model.elements, smk.params.train, seed=seed, device=device)
    primary = per_network(model.names, scores["y"], scores["prob"])
    paper = per_network(model.names, scores["y_paper"], scores["prob_paper"])
    record = run_record("skt", seed, primary["vote"], paper["vote"], family="skt", form="window",
                        study=smk.wildcards.study, variant=smk.wildcards.variant,
                        per_network={"primary": primary, "paper_protocol": paper}, targets=model.names,
                        dilations=model.dilations, elements=model.elements, skt=smk.params.skt,
                        model=str(smk.input.model), window=tiles.window)
    m = primary["vote"]
    log.info("%s/%s seed %d: vote accuracy %.3f, recall %s, F1 %.3f, ROC AUC %s (%d windows, %d with mines)",
             smk.wildcards.study, smk.wildcards.variant, seed, m["accuracy"], m["recall"], m["f1"], m["roc_auc"],
             m["n"], m["n_pos"])
    write_json(smk.output.record, record)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
