# The report (figures and one self-contained HTML page, drawn from the tables the
# workflow wrote: map_evaluation.json, test_window_scores.csv, ...), the table of
# the test windows' scores its ROC figure reads, and the QGIS style sidecars of
# the probability and spread maps.


rule qgis_style:
    """QGIS default style beside a probability map: pseudocolour 0..1, nodata transparent."""
    conda:
        CONDA_ENV
    input:
        probability="results/{dataset}/maps/{map}_probability.tif",
    output:
        style="results/{dataset}/maps/{map}_probability.qml",
    wildcard_constraints:
        map="[A-Za-z0-9_]+",
    log:
        "results/{dataset}/logs/qgis_style_{map}.log",
    benchmark:
        "results/{dataset}/benchmarks/qgis_style_{map}.tsv"
    script:
        "../scripts/qgis_styles.py"


rule uncertainty_style:
    """QGIS default style beside a spread map: magma 0..0.5, nodata transparent."""
    conda:
        CONDA_ENV
    input:
        spread="results/{dataset}/maps/{map}_uncertainty.tif",
    output:
        style="results/{dataset}/maps/{map}_uncertainty.qml",
    wildcard_constraints:
        map="[A-Za-z0-9_]+",
    log:
        "results/{dataset}/logs/uncertainty_style_{map}.log",
    benchmark:
        "results/{dataset}/benchmarks/uncertainty_style_{map}.tsv"
    script:
        "../scripts/qgis_styles.py"


rule test_window_scores:
    """Labels and scores of the test windows for the report's ROC figure: SKT's window layer and each dense
    baseline's map over the windows (per-pixel baselines: baselines.pixel_reduce, as in the comparison table)."""
    conda:
        CONDA_ENV
    input:
        unpack(window_score_maps),
        windows="results/{dataset}/maps/skt_windows.gpkg",
        tiles_index="results/{dataset}/tiles/index.gpkg",
        tiles_meta="results/{dataset}/tiles/tiles.json",
    output:
        csv="results/{dataset}/tables/test_window_scores.csv",
    params:
        reduce=lambda wildcards: dataset_view(wildcards.dataset)["baselines"]["pixel_reduce"],
    log:
        "results/{dataset}/logs/tables/test_window_scores.log",
    benchmark:
        "results/{dataset}/benchmarks/test_window_scores.tsv"
    script:
        "../scripts/test_window_scores.py"


rule report:
    """Figures (PNG) and the self-contained HTML report of one dataset, from the tables the workflow wrote (the
    evaluation tables, map_evaluation.json among them, come from report_inputs); it recomputes none."""
    conda:
        CONDA_ENV
    input:
        unpack(report_inputs),
        rasters="results/{dataset}/rasters",
        stack="results/{dataset}/stack/zscore.tif",
        qa="results/{dataset}/prepare/qa.json",
        elements="results/{dataset}/screening/elements.csv",
        sites="results/{dataset}/prepare/sites.gpkg",
        tiles_meta="results/{dataset}/tiles/tiles.json",
        tiles_index="results/{dataset}/tiles/index.gpkg",
        probability="results/{dataset}/maps/skt_probability.tif",
        windows="results/{dataset}/maps/skt_windows.gpkg",
        skt_metrics="results/{dataset}/models/skt_metrics.json",
        skt_log="results/{dataset}/models/skt_log.csv",
        window_scores="results/{dataset}/tables/test_window_scores.csv",
    output:
        html="results/{dataset}/report/report.html",
        figures=directory("results/{dataset}/report/figures"),
    params:
        settings=lambda wildcards: dataset_view(wildcards.dataset),
    log:
        "results/{dataset}/logs/report.log",
    benchmark:
        "results/{dataset}/benchmarks/report.tsv"
    script:
        "../scripts/report.py"
