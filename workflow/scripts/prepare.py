"""Snakemake adapter for pipeline.prepare."""

from pipeline.atomic import write_json
from pipeline.prepare import prepare_samples, prepare_sites, write_points
from pipeline.runlog import logging_to


def main(smk):
    ds, opts = smk.params.dataset, smk.params.prepare
    samples, qa = prepare_samples(
        smk.input.samples, x_column=ds["x_column"], y_column=ds["y_column"], crs=ds["crs"],
        working_crs=ds["working_crs"], layer=ds["samples_layer"], elements=ds["elements"],
        units=ds["units"], missing_codes=opts["missing_codes"],
        detection_limit_rule=opts["detection_limit_rule"], duplicate_rule=opts["duplicate_rule"],
        min_valid=opts["min_valid"], campaign_column=ds["campaign_column"],
        harmonise_censoring=opts["harmonise_censoring"], harmonise_below_limit=opts["harmonise_below_limit"],
        decimal=ds["decimal"])
    sites, sites_qa = prepare_sites(
        smk.input.sites, x_column=ds["sites_x_column"], y_column=ds["sites_y_column"],
        crs=ds["sites_crs"] or ds["crs"], working_crs=samples.crs, layer=ds["sites_layer"],
        decimal=ds["decimal"])
    write_points(samples, smk.output.samples)
    write_points(sites, smk.output.sites)
    write_json(smk.output.qa, {"samples": qa, "sites": sites_qa})


with logging_to(snakemake.log[0]):  # noqa: F821 (provided by Snakemake)
    main(snakemake)  # noqa: F821
