rule stack:
    """Each selected raster transformed (stack.transform) and scaled over its valid cells (eq. 5) into one multi-band GeoTIFF."""
    conda:
        CONDA_ENV
    input:
        rasters="results/{dataset}/rasters",
        elements="results/{dataset}/screening/elements.csv",
    output:
        stack="results/{dataset}/stack/zscore.tif",
        stats="results/{dataset}/stack/zscore.json",
    params:
        stack=settings("stack"),
    log:
        "results/{dataset}/logs/stack.log",
    benchmark:
        "results/{dataset}/benchmarks/stack.tsv"
    script:
        "../scripts/stack.py"
