"""Snakemake adapter: one cell learner in one fold (pipeline.cv.cell_models)."""

import logging

import pandas as pd

from pipeline.atomic import write_json
from pipeline.evaluation.tables import json_safe
from pipeline.methods import fold_fitter
from pipeline.runlog import logging_to
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")


def main(smk):
    plan = read_json(smk.input.plan)
    table = pd.read_csv(smk.input.elements)
    elements = list(table.loc[table["selected"], "element"])
    fit = fold_fitter(smk.wildcards.method)   # pipeline.cv.cell_models.cell_fold_map, through the registry
    record = fit(smk.wildcards.method, smk.input.stack, smk.input.density, elements, plan,
                 int(smk.wildcards.fold), smk.output.probability, smk.output.parts,
                 label_distance=float(smk.params.label_distance), buffer=plan["buffer"],
                 settings=smk.params.learners, commodity_path=smk.input.commodity,
                 seed=int(smk.params.seed), n_jobs=smk.threads)
    write_json(smk.output.model, json_safe(record))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
