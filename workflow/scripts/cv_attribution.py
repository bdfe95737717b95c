"""Snakemake adapter for pipeline.cv.attribution: the attribution map, its style, the held-out sites' table
and figure of one decomposing learner."""

import logging
import re

from pipeline.cv.attribution import (attribution_figure, held_out_tops, read_shares, write_attribution_map,
                                     write_sites_table)
from pipeline.qgis_style import write_attribution_style
from pipeline.rasters import grid_of
from pipeline.runlog import logging_to
from pipeline.records import read_json

log = logging.getLogger("pipeline.cv")


def main(smk):
    method = smk.wildcards.method
    plan = read_json(smk.input.plan)
    paths = list(smk.input.shares)
    grid = grid_of(paths[0])
    by_fold = {}
    for path in paths:   # each fold's and seed's file read once, for the map and the sites
        by_fold.setdefault(int(re.search(r"fold(\d+)", path).group(1)), []).append(read_shares(path))
    names, band, limit = write_attribution_map([f for folds in by_fold.values() for f in folds], grid,
                                               smk.output.map, method=method)
    write_attribution_style(smk.output.style, band=band + 1, limit=limit)
    rows = held_out_tops(plan, by_fold, grid)
    write_sites_table(rows, smk.output.sites)
    attribution_figure(rows, smk.output.figure, method=method)
    tops = {}
    for row in rows:
        tops[row["top1"]] = tops.get(row["top1"], 0) + 1
    log.info("%s attribution: %d inputs (%s) over %d fold maps; styled band %d (%s, +-%.3g); top element at the "
             "%d held-out sites: %s", method, len(names), ", ".join(names), len(paths), band + 1, names[band], limit,
             len(rows), ", ".join(f"{k} {v}" for k, v in sorted(tops.items(), key=lambda kv: -kv[1])))


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
