# Training. Both rules take the gpu token when they will run on a GPU (GPU, from
# pipeline.device_plan) so that with `--resources gpu=1` Snakemake never puts two
# of them on one GPU; on the CPU they take none and run side by side. Checkpoints
# live beside the declared outputs (not as outputs: Snakemake deletes outputs
# before a job starts, and the checkpoint is what a rerun resumes from).

TILE_FILES = ("windows.npy", "index.csv", "tiles.json")


rule source_pool:
    """source.task: datasets: the labelled windows of every dataset in source.datasets,
    cut at this dataset's window and matched to its elements by name (pipeline.source_pool)."""
    conda:
        CONDA_ENV
    input:
        stacks=source_pool_inputs("stacks"),
        sites=source_pool_inputs("sites"),
        target_stack="results/{dataset}/cv/stack.json",
        target_tiles="results/{dataset}/tiles/tiles.json",
    output:
        windows="results/{dataset}/source_pool/windows.npy",
        index="results/{dataset}/source_pool/index.csv",
        meta="results/{dataset}/source_pool/tiles.json",
    params:
        datasets=lambda wildcards: dataset_view(wildcards.dataset)["source"]["datasets"],
        tiles=settings("tiles"),
    log:
        "results/{dataset}/logs/source_pool.log",
    benchmark:
        "results/{dataset}/benchmarks/source_pool.tsv"
    script:
        "../scripts/source_pool.py"


rule train_source:
    """Source network N_S: a plain ResNet-18 on the source task (paper section 3.1)."""
    conda:
        CONDA_ENV
    input:
        tiles=source_tiles,
        target=source_elements_from,
    output:
        model="results/{dataset}/models/source.pt",
        metrics="results/{dataset}/models/source_metrics.json",
        log_csv="results/{dataset}/models/source_log.csv",
    params:
        source=settings("source"),
        model=settings("model"),
        train=settings("train"),
        seed=config["seed"],
        device=config["device"],
        checkpoint="results/{dataset}/models/checkpoints/source.ckpt",
    threads: NET_THREADS
    resources:
        gpu=GPU,
    log:
        "results/{dataset}/logs/train_source.log",
    benchmark:
        "results/{dataset}/benchmarks/train_source.tsv"
    script:
        "../scripts/train_source.py"


rule train_skt:
    """SKT: soft mask, dilated inputs, selective transfer, self-distillation (paper section 3)."""
    conda:
        CONDA_ENV
    input:
        tiles=expand("results/{{dataset}}/tiles/{f}", f=TILE_FILES),
        source=source_network,
        elements="results/{dataset}/screening/elements.csv",
    output:
        model="results/{dataset}/models/skt.pt",
        metrics="results/{dataset}/models/skt_metrics.json",
        log_csv="results/{dataset}/models/skt_log.csv",
    params:
        skt=settings("skt"),
        model=settings("model"),
        train=settings("train"),
        seed=config["seed"],
        device=config["device"],
        checkpoint="results/{dataset}/models/checkpoints/skt.ckpt",
    threads: NET_THREADS
    resources:
        gpu=GPU,
    log:
        "results/{dataset}/logs/train_skt.log",
    benchmark:
        "results/{dataset}/benchmarks/train_skt.tsv"
    script:
        "../scripts/train_skt.py"
