"""Snakemake adapter: the cross-validation tables (pipeline.cv.evaluate, pipeline.cv.tables)."""

import logging

import pandas as pd

from pipeline.atomic import atomic_path, write_text
from pipeline.cv.evaluate import site_table, summary_table, window_table
from pipeline.cv.tables import method_label, summary_markdown
from pipeline.cv.yardstick import fixed_references
from pipeline.runlog import logging_to
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")


def load_records(paths):
    records = []
    for path in paths:
        data = read_json(path)
        records += data if isinstance(data, list) else [data]
    return records


def main(smk):
    plan = read_json(smk.input.plan)
    records, choices = fixed_references(load_records(smk.input.records), plan)
    for c in choices:
        log.info("fold %d: reference_nested takes %s (AUC %.3f on %d training sites)", c["fold"], c["chosen"],
                 c["training_auc"], c["n_training_sites"])
    table = summary_table(records, plan, fractions=smk.params.fractions, n_boot=smk.params.n_boot,
                          seed=smk.params.seed)
    table.insert(1, "label", [method_label(m) for m in table["method"]])
    with atomic_path(smk.output.csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    write_text(smk.output.md, summary_markdown(table, plan, smk.params.n_boot, choices))
    with atomic_path(smk.output.sites) as tmp:
        site_table(records).to_csv(tmp, index=False, float_format="%.6f")
    with atomic_path(smk.output.nested) as tmp:
        pd.DataFrame(choices).to_csv(tmp, index=False, float_format="%.4f")
    windows = window_table(records)
    with atomic_path(smk.output.windows) as tmp:
        windows.to_csv(tmp, index=False, float_format="%.4f")
    for _, r in table.iterrows():
        log.info("%-28s %-9s held-out AUC %.3f [%.3f, %.3f]; minus reference_fair %+.3f [%.3f, %.3f]", r["method"],
                 r["kind"], r["heldout_auc"], r["ci_low"], r["ci_high"], r.get("diff_vs_reference_fair", float("nan")),
                 r.get("diff_reference_fair_ci_low", float("nan")), r.get("diff_reference_fair_ci_high", float("nan")))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
