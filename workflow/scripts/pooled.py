"""Snakemake adapter: the pooled test over surveys (pipeline.cv.pooled)."""

import logging

import pandas as pd

from pipeline.atomic import atomic_path, write_text
from pipeline.cv.pooled import pooled_markdown, pooled_tables, read_pooled_tables
from pipeline.cv.tables import method_label
from pipeline.runlog import logging_to

log = logging.getLogger("pipeline.cv")


def main(smk):
    tables = {name: pd.read_csv(path) for name, path in zip(smk.params.surveys, smk.input.sites)}
    summary, signs = pooled_tables(tables, weight=smk.params.weight, n_boot=smk.params.n_boot, seed=smk.params.seed)
    summary.insert(1, "label", [method_label(m) for m in summary["method"]])
    with atomic_path(smk.output.csv) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(smk.output.signs) as tmp:
        signs.to_csv(tmp, index=False, float_format="%.4f")
    written, written_signs = read_pooled_tables(smk.output.csv, smk.output.signs)
    write_text(smk.output.md, pooled_markdown(written, written_signs, n_boot=smk.params.n_boot,
                                              weight=smk.params.weight))
    for _, r in summary.iterrows():
        log.info("%-28s %d surveys: held-out AUC %.3f; minus reference_fair %+.3f [%.3f, %.3f]", r["method"],
                 r["n_surveys"], r["heldout_auc"], r["diff_vs_reference_fair"], r["diff_reference_fair_ci_low"],
                 r["diff_reference_fair_ci_high"])


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
