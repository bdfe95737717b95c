"""Snakemake adapter: map_evaluation.json (curves, for the report) and map_evaluation.csv."""


from pipeline.atomic import write_json
from pipeline.evaluation.tables import map_table, write_table
from pipeline.runlog import logging_to
from pipeline.records import read_json


def main(smk):
    results = {}
    for path in smk.input.maps:
        result = read_json(path)
        results[result["map"]] = result
    write_json(smk.output.json, {
        "dataset": smk.wildcards.dataset,
        "description": "per map: test_sites (sites below the train/test boundary, test part of the grid; "
                       "honest) and all_sites (whole map, training sites included); curves.success_rate "
                       "(area_fraction, captured_fraction) and curves.prediction_area (thresholds, pct_sites, "
                       "pct_area)",
        "maps": results})
    write_table(map_table(results), smk.output.csv)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
