"""Snakemake adapter: element screening of one fold (pipeline.cv.fold_screening)."""

import logging

from pipeline.atomic import atomic_path
from pipeline.cv.fold_screening import screen_fold
from pipeline.runlog import logging_to
from pipeline.survey_io import element_columns, read_points
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")


def main(smk):
    opts, fold = smk.params.screen, int(smk.wildcards.fold)
    plan = read_json(smk.input.plan)
    available = read_json(smk.input.stats)["elements"]
    samples = read_points(smk.input.samples)
    table = screen_fold(samples, element_columns(samples), plan, fold, label_radius=opts["label_radius"],
                        buffer=plan["buffer"], available=available, method=opts["auc_method"],
                        z_critical=opts["z_critical"], explicit=opts["elements"], min_selected=opts["min_selected"],
                        direction=opts["direction"], svm_c=opts["svm_c"], cv_folds=opts["cv_folds"],
                        seed=smk.params.seed, min_class_size=opts["min_class_size"],
                        workers=smk.threads)
    if table["screening"].iloc[0] != "screened":
        log.warning("fold %d: screening %s", fold, table["screening"].iloc[0])
    log.info("fold %d: %d samples near held-out sites left out; selected %s", fold, int(table["n_left_out"].iloc[0]),
             ", ".join(table.loc[table["selected"], "element"]))
    with atomic_path(smk.output.elements) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
