rule interpolate:
    """One IDW GeoTIFF per selected element (paper eqs. 3-4), one neighbour search for all."""
    conda:
        CONDA_ENV
    input:
        samples="results/{dataset}/prepare/samples.gpkg",
        elements="results/{dataset}/screening/elements.csv",
    output:
        rasters=directory("results/{dataset}/rasters"),
    params:
        interpolate=settings("interpolate"),
    threads: 2
    log:
        "results/{dataset}/logs/interpolate.log",
    benchmark:
        "results/{dataset}/benchmarks/interpolate.tsv"
    script:
        "../scripts/interpolate.py"
