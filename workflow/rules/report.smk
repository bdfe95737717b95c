# The report (figures and one self-contained HTML page) and the QGIS style
# sidecars of the probability and spread maps.


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


rule report:
    """Figures (PNG) and the self-contained HTML report of one dataset."""
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
    output:
        html="results/{dataset}/report/report.html",
        figures=directory("results/{dataset}/report/figures"),
    params:
        settings=lambda wildcards: dataset_view(wildcards.dataset),
        window_reduce=lambda wildcards: dataset_view(wildcards.dataset)["baselines"]["pixel_reduce"],
    log:
        "results/{dataset}/logs/report.log",
    benchmark:
        "results/{dataset}/benchmarks/report.tsv"
    script:
        "../scripts/report.py"
