"""Snakemake adapter for pipeline.prepare."""

import logging

from pipeline.atomic import write_json
from pipeline.prepare import (element_summary_lines, prepare_samples, prepare_sites, samples_summary,
                              sites_outside_samples, sites_summary, write_duplicates, write_points)
from pipeline.runlog import logging_to
from pipeline.site_offsets import frames_hint
from pipeline.survey_io import site_names

log = logging.getLogger("pipeline.prepare")


def main(smk):
    ds, opts = smk.params.dataset, smk.params.prepare
    samples, qa = prepare_samples(
        smk.input.samples, x_column=ds["x_column"], y_column=ds["y_column"], crs=ds["crs"],
        working_crs=ds["working_crs"], layer=ds["samples_layer"], elements=ds["elements"],
        units=ds["units"], missing_codes=opts["missing_codes"],
        detection_limit_rule=opts["detection_limit_rule"], duplicate_rule=opts["duplicate_rule"],
        min_valid=opts["min_valid"], campaign_column=ds["campaign_column"],
        harmonise_censoring=opts["harmonise_censoring"], harmonise_below_limit=opts["harmonise_below_limit"],
        decimal=ds["decimal"], encoding=ds["encoding"], text_flags=opts["text_flags"],
        guess_missing_codes=opts["guess_missing_codes"], outliers=opts["outliers"], outlier_z=opts["outlier_z"],
        outlier_gap=opts["outlier_gap"], duplicate_tolerance=opts["duplicate_tolerance"],
        zero_means=opts["zero_means"], id_column=ds["id_column"])
    sites, sites_qa = prepare_sites(
        smk.input.sites, x_column=ds["sites_x_column"], y_column=ds["sites_y_column"],
        crs=ds["sites_crs"] or ds["crs"], working_crs=samples.crs, layer=ds["sites_layer"],
        decimal=ds["decimal"], encoding=ds["encoding"])
    outside = sites_outside_samples(sites, samples)
    sites_qa["offset_hint"] = frames_hint(sites, samples, sites_qa, qa)
    for line, warnings in (samples_summary(qa, requested=bool(ds["elements"])),
                           sites_summary(sites_qa, int(outside.sum()), site_names(sites, outside))):
        log.info("%s", line)
        for warning in warnings:
            log.warning("%s", warning)
    for line in element_summary_lines(qa):
        log.info("samples: %s", line)
    write_duplicates(qa["locations_merged"]["conflicts"], smk.output.duplicates,
                     qa["locations_merged"].get("same_id_other_location"))
    write_points(samples, smk.output.samples)
    write_points(sites, smk.output.sites)
    write_json(smk.output.qa, {"samples": qa, "sites": sites_qa})


with logging_to(snakemake.log[0]):  # noqa: F821 (provided by Snakemake)
    main(snakemake)  # noqa: F821
