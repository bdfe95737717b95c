# Baselines of the paper's Table 3, one job per method and seed. Each writes a
# run record (metrics.json) under results/{dataset}/baselines/{method}/seed{seed}/;
# the dense ones (per-pixel classical, CNNs) also write a probability GeoTIFF,
# for the main seed (config `seed`) under results/{dataset}/maps/.
# The classical rules never declare the gpu resource; the CNN rules take the token when on a GPU.

MAIN_SEED = int(config["seed"])
CLASSICAL = "svm|knn|random_forest|decision_tree"
CNNS = method_pattern(*CNN_NAMES)  # pipeline.methods.CNNS, imported in common.smk
# any seed but the main one (whose dense outputs go to maps/)
OTHER_SEED = f"(?!{MAIN_SEED}(?![0-9]))[0-9]+"


rule baseline_window:
    """Classical method on pooled, flattened windows (the paper's form), one seed."""
    conda:
        CONDA_ENV
    input:
        tiles=expand("results/{{dataset}}/tiles/{f}", f=TILE_FILES),
    output:
        metrics="results/{dataset}/baselines/{method}/seed{seed}/metrics.json",
    wildcard_constraints:
        method=CLASSICAL,
        seed="[0-9]+",
    params:
        opts=baseline_settings("window_pool", "max_features", "window_balance"),
        noise_variance=noise_variance,
        seed=lambda wildcards: int(wildcards.seed),
    threads: 2
    log:
        "results/{dataset}/logs/baselines/{method}_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/baselines/{method}_seed{seed}.tsv"
    script:
        "../scripts/baseline_window.py"


PIXEL_RULE = dict(
    input=dict(
        stack="results/{dataset}/stack/zscore.tif",
        sites="results/{dataset}/prepare/sites.gpkg",
        index="results/{dataset}/tiles/index.csv",
        meta="results/{dataset}/tiles/tiles.json",
    ),
    params=dict(
        opts=baseline_settings("pixel_balance", "pixel_max_samples", "pixel_reduce"),
        label_distance=pixel_label_distance,
    ),
)


rule baseline_pixel:
    """Classical method per pixel (main seed): probability map on the stack's grid and window metrics."""
    conda:
        CONDA_ENV
    input:
        **PIXEL_RULE["input"],
    output:
        metrics=f"results/{{dataset}}/baselines/{{method}}_pixel/seed{MAIN_SEED}/metrics.json",
        probability="results/{dataset}/maps/{method}_pixel_probability.tif",
    wildcard_constraints:
        method=CLASSICAL,
    params:
        **PIXEL_RULE["params"],
        seed=MAIN_SEED,
    threads: 2
    log:
        "results/{dataset}/logs/baselines/{method}_pixel.log",
    benchmark:
        "results/{dataset}/benchmarks/baselines/{method}_pixel.tsv"
    script:
        "../scripts/baseline_pixel.py"


use rule baseline_pixel as baseline_pixel_seed with:
    output:
        metrics="results/{dataset}/baselines/{method}_pixel/seed{seed}/metrics.json",
        probability="results/{dataset}/baselines/{method}_pixel/seed{seed}/probability.tif",
    wildcard_constraints:
        method=CLASSICAL,
        seed=OTHER_SEED,
    params:
        **PIXEL_RULE["params"],
        seed=lambda wildcards: int(wildcards.seed),
    log:
        "results/{dataset}/logs/baselines/{method}_pixel_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/baselines/{method}_pixel_seed{seed}.tsv"


rule baseline_cnn:
    """A torchvision CNN with the element channels, trained with SKT's loop and schedule, one seed."""
    conda:
        CONDA_ENV
    input:
        tiles=expand("results/{{dataset}}/tiles/{f}", f=TILE_FILES),
    output:
        metrics="results/{dataset}/baselines/{method}/seed{seed}/metrics.json",
        model="results/{dataset}/baselines/{method}/seed{seed}/model.pt",
        log_csv="results/{dataset}/baselines/{method}/seed{seed}/log.csv",
    wildcard_constraints:
        method=CNNS,
        seed="[0-9]+",
    params:
        width=lambda wildcards: dataset_view(wildcards.dataset)["baselines"]["cnn_width"],
        train=settings("train"),
        seed=lambda wildcards: int(wildcards.seed),
        device=config["device"],
        checkpoint="results/{dataset}/baselines/{method}/seed{seed}/checkpoint.ckpt",
    threads: NET_THREADS
    resources:
        gpu=GPU,
    log:
        "results/{dataset}/logs/baselines/{method}_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/baselines/{method}_seed{seed}.tsv"
    script:
        "../scripts/baseline_cnn.py"


rule baseline_cnn_map:
    """Dense probability map of a CNN baseline (main seed), sliding windows as SKT's map."""
    conda:
        CONDA_ENV
    input:
        model=f"results/{{dataset}}/baselines/{{method}}/seed{MAIN_SEED}/model.pt",
        stack="results/{dataset}/stack/zscore.tif",
    output:
        probability="results/{dataset}/maps/{method}_probability.tif",
    wildcard_constraints:
        method=CNNS,
    params:
        predict=settings("predict"),
        amp=lambda wildcards: dataset_view(wildcards.dataset)["train"]["amp"],
        device=config["device"],
    threads: NET_THREADS
    resources:
        gpu=GPU,
    log:
        "results/{dataset}/logs/baselines/{method}_map.log",
    benchmark:
        "results/{dataset}/benchmarks/baselines/{method}_map.tsv"
    script:
        "../scripts/baseline_cnn_map.py"
