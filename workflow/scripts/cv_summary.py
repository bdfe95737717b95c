"""Snakemake adapter: the cross-validation tables (pipeline.cv.evaluate, pipeline.cv.tables)."""

import json
import logging

from pipeline.atomic import atomic_path, write_text
from pipeline.cv.evaluate import summary_table, window_table
from pipeline.cv.tables import method_label, summary_markdown
from pipeline.runlog import logging_to

log = logging.getLogger("pipeline.cv")


def load_records(paths):
    records = []
    for path in paths:
        data = json.loads(open(path).read())
        records += data if isinstance(data, list) else [data]
    return records


def main(smk):
    plan = json.loads(open(smk.input.plan).read())
    records = load_records(smk.input.records)
    table = summary_table(records, plan, fractions=smk.params.fractions, n_boot=smk.params.n_boot,
                          seed=smk.params.seed)
    table.insert(1, "label", [method_label(m) for m in table["method"]])
    with atomic_path(smk.output.csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    write_text(smk.output.md, summary_markdown(table, plan, smk.params.n_boot))
    windows = window_table(records)
    with atomic_path(smk.output.windows) as tmp:
        windows.to_csv(tmp, index=False, float_format="%.4f")
    for _, r in table.iterrows():
        log.info("%-28s %-9s held-out AUC %.3f [%.3f, %.3f]", r["method"], r["kind"], r["heldout_auc"], r["ci_low"],
                 r["ci_high"])


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
