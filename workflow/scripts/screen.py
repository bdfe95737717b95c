"""Snakemake adapter for pipeline.screening."""

import logging

import pandas as pd

from pipeline.atomic import atomic_path
from pipeline.runlog import logging_to
from pipeline.screening import check_class_sizes, label_by_distance, screen_elements
from pipeline.survey_io import element_columns, read_points

log = logging.getLogger("pipeline.screen")


def main(smk):
    opts = smk.params.screen
    samples = read_points(smk.input.samples)
    sites = read_points(smk.input.sites)
    elements = element_columns(samples)
    labels, dist = label_by_distance(samples[["x", "y"]].to_numpy(), sites.get_coordinates().to_numpy(),
                                     opts["label_radius"])
    log.info("%d of %d samples lie within %.0f m of a site", labels.sum(), len(labels), opts["label_radius"])
    check_class_sizes(labels, opts["min_class_size"], label_radius=opts["label_radius"], distances=dist,
                      xy=samples[["x", "y"]].to_numpy())
    table = screen_elements(samples, elements, labels, method=opts["auc_method"],
                            z_critical=opts["z_critical"], explicit=opts["elements"],
                            min_selected=opts["min_selected"], direction=opts["direction"],
                            svm_c=opts["svm_c"],
                            cv_folds=opts["cv_folds"], seed=smk.params.seed, min_class_size=opts["min_class_size"],
                            workers=smk.threads)
    no_auc = table.loc[~table["auc"].notna(), "element"].tolist()
    log.info("screening: %d samples (%d with mines, %d without); %d elements screened, %d selected: %s",
             len(labels), int(labels.sum()), int(len(labels) - labels.sum()), len(table),
             int(table["selected"].sum()), ", ".join(table.loc[table["selected"], "element"]))
    if no_auc:
        log.warning("no AUC for %d elements (too few valid values in a class, or none computable): %s",
                    len(no_auc), ", ".join(no_auc))
    with atomic_path(smk.output.elements) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(smk.output.labels) as tmp:
        pd.DataFrame({"x": samples["x"], "y": samples["y"], "distance_to_site": dist,
                      "label": labels}).to_csv(tmp, index=False, float_format="%.3f")


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
