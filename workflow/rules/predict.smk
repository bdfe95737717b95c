rule predict_map:
    """Dense prospectivity: sliding-window inference over the whole stack, averaged per pixel."""
    conda:
        CONDA_ENV
    input:
        model="results/{dataset}/models/skt.pt",
        stack="results/{dataset}/stack/zscore.tif",
    output:
        probability="results/{dataset}/maps/skt_probability.tif",
    params:
        predict=settings("predict"),
        train=settings("train"),
        device=config["device"],
    threads: NET_THREADS
    resources:
        gpu=GPU,
    log:
        "results/{dataset}/logs/predict_map.log",
    benchmark:
        "results/{dataset}/benchmarks/predict_map.tsv"
    script:
        "../scripts/predict_map.py"


rule predict_windows:
    """Per-window predictions on the tile index (paper Figure 7) as a GeoPackage layer."""
    conda:
        CONDA_ENV
    input:
        model="results/{dataset}/models/skt.pt",
        tiles=expand("results/{{dataset}}/tiles/{f}", f=TILE_FILES),
        gpkg="results/{dataset}/tiles/index.gpkg",
    output:
        windows="results/{dataset}/maps/skt_windows.gpkg",
    params:
        predict=settings("predict"),
        train=settings("train"),
        device=config["device"],
    threads: NET_THREADS
    resources:
        gpu=GPU,
    log:
        "results/{dataset}/logs/predict_windows.log",
    benchmark:
        "results/{dataset}/benchmarks/predict_windows.tsv"
    script:
        "../scripts/predict_windows.py"
