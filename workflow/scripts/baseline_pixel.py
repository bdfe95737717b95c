"""Snakemake adapter: a classical baseline per pixel, its probability map and window metrics."""

import logging

import numpy as np

from pipeline.atomic import write_json
from pipeline.baselines.classical import (fit_pixel_baseline, predict_stack, read_index,
                                          window_probabilities)
from pipeline.evaluation.metrics import youden_threshold
from pipeline.evaluation.tables import metrics_record, run_record
from pipeline.runlog import logging_to
from pipeline.survey_io import read_points
from pipeline.records import read_json

log = logging.getLogger("pipeline.baselines")


def main(smk):
    opts, seed, method = smk.params.opts, int(smk.params.seed), smk.wildcards.method
    meta = read_json(smk.input.meta)
    window = int(meta["window"])
    index = read_index(smk.input.index)
    sites = read_points(smk.input.sites).get_coordinates().to_numpy()
    model = fit_pixel_baseline(method, smk.input.stack, index, sites, window=window,
                               label_distance=float(smk.params.label_distance),
                               max_samples=opts["pixel_max_samples"], balance=opts["pixel_balance"], seed=seed,
                               n_jobs=smk.threads)
    predict_stack(model, smk.input.stack, smk.output.probability)
    scores = window_probabilities(smk.output.probability, index, window, reduce=opts["pixel_reduce"])
    split, label = index["split"].to_numpy(), index["label"].to_numpy()
    train = (split == "train") & np.isfinite(scores)
    test = split == "test"
    unscored = int((test & ~np.isfinite(scores)).sum())
    if unscored:
        log.warning("%s: %d test windows have no valid pixel and are left out", method, unscored)
    test &= np.isfinite(scores)
    # window scores are mean pixel probabilities, not calibrated to the window label:
    # classify at the threshold that works best on the training windows
    threshold = youden_threshold(label[train], scores[train])
    primary = metrics_record(label[test], scores[test], threshold=threshold)
    record = run_record(f"{method}_pixel", seed, primary, None, family="classical", form="pixel",
                        threshold=threshold, threshold_rule="Youden's J on the training windows",
                        window_score=opts["pixel_reduce"], counts=model.counts, notes=model.notes
                        + ["paper protocol not applicable: window scores come from the pixel map"],
                        label_distance=model.label_distance, test_windows_unscored=unscored,
                        elements=list(model.bands), window=window)
    log.info("%s_pixel seed %d: threshold %.3f, test accuracy %.3f, recall %s, F1 %.3f, ROC AUC %s", method, seed,
             threshold, primary["accuracy"], primary["recall"], primary["f1"], primary["roc_auc"])
    write_json(smk.output.metrics, record)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
