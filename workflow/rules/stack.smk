rule stack:
    """z-score each selected raster over its valid cells into one multi-band GeoTIFF (eq. 5)."""
    conda:
        CONDA_ENV
    input:
        rasters="results/{dataset}/rasters",
        elements="results/{dataset}/screening/elements.csv",
    output:
        stack="results/{dataset}/stack/zscore.tif",
        stats="results/{dataset}/stack/zscore.json",
    log:
        "results/{dataset}/logs/stack.log",
    benchmark:
        "results/{dataset}/benchmarks/stack.tsv"
    script:
        "../scripts/stack.py"
