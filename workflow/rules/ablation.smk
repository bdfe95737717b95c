# SKT beyond the main model: replicates for the other seeds in evaluate.seeds,
# the paper's ablations (Table 5) and the beta sweep (Figure 6). They run the
# same training scripts as train.smk with other settings:
#   models/seeds/{seed}/source.pt, skt.pt            other seeds (the main seed's are models/*.pt)
#   models/ablation/{variant}/seed{seed}/skt.pt      one part of SKT switched off
#   models/beta_sweep/beta{beta}/seed{seed}/skt.pt   skt.beta = beta
# A variant transfers from the source network of its seed, the same one the
# full SKT of that seed uses.

from pipeline.methods import ABLATIONS


rule train_source_seed:
    """Source network N_S for another seed of evaluate.seeds."""
    conda:
        CONDA_ENV
    input:
        tiles=source_tiles,
        target=source_elements_from,
    output:
        model="results/{dataset}/models/seeds/{seed}/source.pt",
        metrics="results/{dataset}/models/seeds/{seed}/source_metrics.json",
        log_csv="results/{dataset}/models/seeds/{seed}/source_log.csv",
    wildcard_constraints:
        seed=OTHER_SEED,
    params:
        source=settings("source"),
        model=settings("model"),
        train=settings("train"),
        seed=lambda wildcards: int(wildcards.seed),
        device=config["device"],
        checkpoint="results/{dataset}/models/seeds/{seed}/checkpoints/source.ckpt",
    threads: NET_THREADS
    resources:
        gpu=GPU,
    log:
        "results/{dataset}/logs/train_source_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/train_source_seed{seed}.tsv"
    script:
        "../scripts/train_source.py"


rule train_skt_seed:
    """The full SKT model for another seed of evaluate.seeds."""
    conda:
        CONDA_ENV
    input:
        tiles=expand("results/{{dataset}}/tiles/{f}", f=TILE_FILES),
        source=seeded_source,
        elements="results/{dataset}/screening/elements.csv",
    output:
        model="results/{dataset}/models/seeds/{seed}/skt.pt",
        metrics="results/{dataset}/models/seeds/{seed}/skt_metrics.json",
        log_csv="results/{dataset}/models/seeds/{seed}/skt_log.csv",
    wildcard_constraints:
        seed=OTHER_SEED,
    params:
        skt=settings("skt"),
        model=settings("model"),
        train=settings("train"),
        seed=lambda wildcards: int(wildcards.seed),
        device=config["device"],
        checkpoint="results/{dataset}/models/seeds/{seed}/checkpoints/skt.ckpt",
    threads: NET_THREADS
    resources:
        gpu=GPU,
    log:
        "results/{dataset}/logs/train_skt_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/train_skt_seed{seed}.tsv"
    script:
        "../scripts/train_skt.py"


rule train_skt_variant:
    """SKT with one setting changed: an ablation (Table 5) or one beta of the sweep (Figure 6)."""
    conda:
        CONDA_ENV
    input:
        tiles=expand("results/{{dataset}}/tiles/{f}", f=TILE_FILES),
        source=seeded_source,
        elements="results/{dataset}/screening/elements.csv",
    output:
        model="results/{dataset}/models/{study}/{variant}/seed{seed}/skt.pt",
        metrics="results/{dataset}/models/{study}/{variant}/seed{seed}/skt_metrics.json",
        log_csv="results/{dataset}/models/{study}/{variant}/seed{seed}/skt_log.csv",
    wildcard_constraints:
        study="ablation|beta_sweep",
        variant="|".join(ABLATIONS) + r"|beta[0-9]+(\.[0-9]+)?",
        seed="[0-9]+",
    params:
        skt=variant_skt,
        model=settings("model"),
        train=settings("train"),
        seed=lambda wildcards: int(wildcards.seed),
        device=config["device"],
        checkpoint="results/{dataset}/models/{study}/{variant}/seed{seed}/checkpoint.ckpt",
    threads: NET_THREADS
    resources:
        gpu=GPU,
    log:
        "results/{dataset}/logs/{study}/{variant}_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/{study}/{variant}_seed{seed}.tsv"
    script:
        "../scripts/train_skt.py"
