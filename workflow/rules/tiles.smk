rule tiles:
    """Windows, labels and the spatial train/test split; tile index GeoPackage."""
    conda:
        CONDA_ENV
    input:
        stack="results/{dataset}/stack/zscore.tif",
        sites="results/{dataset}/prepare/sites.gpkg",
        samples="results/{dataset}/prepare/samples.gpkg",
    output:
        windows="results/{dataset}/tiles/windows.npy",
        index="results/{dataset}/tiles/index.csv",
        gpkg="results/{dataset}/tiles/index.gpkg",
        meta="results/{dataset}/tiles/tiles.json",
    params:
        tiles=settings("tiles"),
    log:
        "results/{dataset}/logs/tiles.log",
    benchmark:
        "results/{dataset}/benchmarks/tiles.tsv"
    script:
        "../scripts/tiles.py"
