"""Snakemake adapter: map-level evaluation (pipeline.evaluation.maps) of one probability map."""

import logging

from pipeline.atomic import write_json
from pipeline.evaluation.maps import evaluate_map, part_mask, sites_in_part
from pipeline.evaluation.tables import METHOD_LABELS, json_safe
from pipeline.rasters import read_band
from pipeline.runlog import logging_to
from pipeline.survey_io import read_points
from pipeline.records import read_json

log = logging.getLogger("pipeline.evaluation")


def main(smk):
    opts, name = smk.params.evaluate, smk.wildcards.map
    split_row = int(read_json(smk.input.meta)["split_row"])
    sites = read_points(smk.input.sites).get_coordinates().to_numpy()
    prob, grid = read_band(smk.input.probability, 1)
    kwargs = dict(fractions=opts["area_fractions"], n_background=opts["n_background"],
                  min_distance=opts["background_min_distance"], seed=int(smk.params.seed))
    test = evaluate_map(prob, grid, sites, sites_in_part(grid, sites, split_row, "test"),
                        area_mask=part_mask(grid, split_row, "test"), **kwargs)
    everywhere = evaluate_map(prob, grid, sites, None, **kwargs)
    result = {"map": name, "label": METHOD_LABELS.get(name, name), "path": str(smk.input.probability), "band": 1,
              "split_row": split_row,
              "test_sites": dict(test, description="sites below the train/test boundary, cells of the test "
                                                   "part only: the honest map score"),
              "all_sites": dict(everywhere, description="every site on the whole map, training sites "
                                                        "included: optimistic")}
    for scope in ("test_sites", "all_sites"):
        r = result[scope]
        log.info("%s, %s: success-rate AUC %.3f, top 10%% area holds %.2f of %d sites, site vs background AUC "
                 "%.3f", name, scope, r["success_rate_auc"], r.get("capture_at_10pct_area", float("nan")),
                 r["n_sites_used"], r["site_vs_background_auc"])
    write_json(smk.output.result, json_safe(result))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
