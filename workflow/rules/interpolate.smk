rule interpolate:
    """One IDW GeoTIFF per element (paper eqs. 3-4), one neighbour search for all; the stack takes the selected ones."""
    conda:
        CONDA_ENV
    input:
        samples="results/{dataset}/prepare/samples.gpkg",
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
