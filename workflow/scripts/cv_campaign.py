"""Snakemake adapter: the campaign-only confound probe under the cross-validation folds."""

import logging
from pathlib import Path

import numpy as np

from pipeline.atomic import write_json
from pipeline.cv.evaluate import evaluate_method, evaluation_setting
from pipeline.cv.folds import fold_sites
from pipeline.grid import near_points_mask
from pipeline.cv.references import campaign_probe_map, nearest_campaign
from pipeline.errors import InputError
from pipeline.evaluation.tables import json_safe
from pipeline.rasters import write_geotiff
from pipeline.runlog import logging_to
from pipeline.window_plan import resolved_tiles
from pipeline.survey_io import read_points
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")


def main(smk):
    plan = read_json(smk.input.plan)
    tiles = resolved_tiles(smk.params.tiles, plan)
    samples = read_points(smk.input.samples)
    if "campaign" not in samples.columns:
        raise InputError("the prepared samples have no campaign column: set campaign_column for this dataset",
                         path=smk.input.samples)
    area, index, grid = evaluation_setting(smk.input.density, tiles)
    codes, names = nearest_campaign(grid, samples[["x", "y"]].to_numpy(), samples["campaign"].to_numpy())
    out_dir = Path(smk.output.maps) / "seed0"
    out_dir.mkdir(parents=True, exist_ok=True)
    maps = {}
    for f in range(plan["n_folds"]):
        held_xy, train_xy = fold_sites(plan, f)
        training = ~near_points_mask(grid, held_xy, plan["buffer"])
        positive = near_points_mask(grid, train_xy, float(smk.params.label_distance))
        path = out_dir / f"fold{f}.tif"
        write_geotiff(path, campaign_probe_map(codes, positive, training, area), grid,
                      ["training-site share of the nearest sample's campaign"], tags={"fold": f})
        maps[f] = str(path)
    record = evaluate_method("campaign", "probe", {0: maps}, plan, area, window_index=index,
                             window=tiles["window"], buffer=plan["buffer"], probability=False)
    log.info("campaign probe over %d campaigns: held-out-site AUC %.3f", len(names),
             float(np.mean([s["score"][0] for s in record["sites"]])))
    write_json(smk.output.record, json_safe(record))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
