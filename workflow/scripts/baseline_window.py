"""Snakemake adapter: a classical baseline on pooled, flattened windows (paper's form)."""

import logging
from pathlib import Path

import numpy as np

from pipeline.atomic import write_json
from pipeline.baselines.classical import fit_window_baseline, predict_windows, select_windows
from pipeline.evaluation.metrics import balanced_noise_copies
from pipeline.evaluation.tables import metrics_record, run_record
from pipeline.nets.tileset import load_tiles
from pipeline.runlog import logging_to

log = logging.getLogger("pipeline.baselines")


def main(smk):
    opts, seed, method = smk.params.opts, int(smk.params.seed), smk.wildcards.method
    tiles = load_tiles(Path(smk.input.tiles[0]).parent)
    index = tiles.index
    train_x, train_y, _ = select_windows(tiles.windows, index, "train")
    test_x, test_y, _ = select_windows(tiles.windows, index, "test")
    model = fit_window_baseline(method, train_x, train_y, pool=opts["window_pool"], seed=seed,
                                balance=opts["window_balance"], noise_variance=smk.params.noise_variance,
                                n_jobs=smk.threads, max_features=opts["max_features"])
    prob = predict_windows(model, test_x)
    # the paper's protocol: test windows balanced with noise copies, as for the deep models
    paper_x, paper_y, _ = balanced_noise_copies(test_x, test_y, smk.params.noise_variance,
                                                np.random.default_rng(seed + 2))
    record = run_record(method, seed, metrics_record(test_y, prob),
                        metrics_record(paper_y, predict_windows(model, paper_x)),
                        family="classical", form="window", pool=model.pool, counts=model.counts,
                        notes=model.notes, elements=tiles.elements, window=tiles.window)
    m = record["primary"]
    log.info("%s seed %d: test accuracy %.3f, recall %s, F1 %.3f, ROC AUC %s (%d windows, %d with mines)",
             method, seed, m["accuracy"], m["recall"], m["f1"], m["roc_auc"], m["n"], m["n_pos"])
    write_json(smk.output.metrics, record)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
