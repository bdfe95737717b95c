"""Snakemake adapter for pipeline.report.build_report."""

from pathlib import Path

from pipeline.report import ReportInputs, build_report
from pipeline.report.inputs import raster_files
from pipeline.runlog import logging_to


def main(smk):
    given = dict(smk.input.items())

    def path(key):
        return Path(given[key]) if key in given else None

    inputs = ReportInputs(
        rasters=raster_files(given["rasters"]), stack=path("stack"), sites=path("sites"),
        tiles_meta=path("tiles_meta"), tiles_index=path("tiles_index"), probability=path("probability"),
        windows=path("windows"), skt_metrics=path("skt_metrics"), skt_log=path("skt_log"),
        source_log=path("source_log"), qa=path("qa"), elements=path("elements"),
        comparison=path("comparison"), per_network=path("per_network"), ablation=path("ablation"),
        beta_sweep=path("beta_sweep"), map_evaluation=path("map_evaluation"), window_scores=path("window_scores"),
        cv_summary=path("cv_summary"),
        dense_maps={k[len("dense_"):]: Path(v) for k, v in given.items() if k.startswith("dense_")},
        uncertainty_maps={k[len("uncertainty_"):]: Path(v) for k, v in given.items() if k.startswith("uncertainty_")},
        attribution={k[len("attribution_"):]: (Path(v), Path(given[f"attribution_sites_{k[len('attribution_'):]}"]))
                     for k, v in given.items() if k.startswith("attribution_") and not k.startswith("attribution_sites_")})
    build_report(inputs, smk.output.html, smk.output.figures, dataset=smk.wildcards.dataset,
                 settings=smk.params.settings)


with logging_to(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
