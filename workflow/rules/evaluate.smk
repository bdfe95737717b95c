# Evaluation: SKT models scored with the same window metrics as the baselines
# (pipeline.evaluation.metrics), map-level evaluation of every dense map, and
# the tables of the paper (3: comparison, 4: per network, 5: ablation, Figure 6:
# beta sweep) with mean and std over evaluate.seeds.

from pipeline.baselines.cnn import NAMES as CNN_NAMES
from pipeline.baselines.classical import NAMES as CLASSICAL_NAMES


def map_settings(wildcards):
    view = dataset_config(config, wildcards.dataset)["evaluate"]
    return {k: view[k] for k in ("area_fractions", "n_background", "background_min_distance")}


def comparison_runs(wildcards):
    """Run records of every method and seed, in table order: classical (windows, then pixels), CNNs, SKT."""
    view = dataset_config(config, wildcards.dataset)["baselines"]
    seeds = eval_seeds(wildcards.dataset)
    methods = [m for m in CLASSICAL_NAMES if m in view["classical"]]
    methods += [f"{m}_pixel" for m in CLASSICAL_NAMES if m in view["pixel"]]
    methods += [m for m in CNN_NAMES if m in view["cnn"]]
    runs = [f"results/{wildcards.dataset}/baselines/{m}/seed{s}/metrics.json" for m in methods for s in seeds]
    return runs + skt_runs(wildcards)


def skt_runs(wildcards):
    return [f"results/{wildcards.dataset}/evaluation/skt/full/seed{s}.json" for s in eval_seeds(wildcards.dataset)]


def ablation_runs(wildcards):
    variants = dataset_config(config, wildcards.dataset)["evaluate"]["ablations"]
    return [f"results/{wildcards.dataset}/evaluation/ablation/{v}/seed{s}.json"
            for v in variants for s in eval_seeds(wildcards.dataset)] + skt_runs(wildcards)


def beta_runs(wildcards):
    betas = dataset_config(config, wildcards.dataset)["evaluate"]["betas"]
    return [f"results/{wildcards.dataset}/evaluation/beta_sweep/beta{b:g}/seed{s}.json"
            for b in betas for s in eval_seeds(wildcards.dataset)]


def dense_maps(dataset):
    """Names of the probability maps evaluated: SKT's and each dense baseline's."""
    view = dataset_config(config, dataset)["baselines"]
    return (["skt"] + [f"{m}_pixel" for m in CLASSICAL_NAMES if m in view["pixel"]]
            + [m for m in CNN_NAMES if m in view["cnn"]])


def map_results(wildcards):
    return [f"results/{wildcards.dataset}/evaluation/maps/{m}.json" for m in dense_maps(wildcards.dataset)]


def evaluated_model(wildcards):
    return skt_model(wildcards.dataset, wildcards.study, wildcards.variant, wildcards.seed)


rule evaluate_skt:
    """Window metrics of one SKT model (each target network and the vote) on the test split."""
    input:
        model=evaluated_model,
        tiles=expand("results/{{dataset}}/tiles/{f}", f=TILE_FILES),
    output:
        record="results/{dataset}/evaluation/{study}/{variant}/seed{seed}.json",
    wildcard_constraints:
        study="skt|ablation|beta_sweep",
        variant="full|" + "|".join(ABLATIONS) + r"|beta[0-9]+(\.[0-9]+)?",
        seed="[0-9]+",
    params:
        train=settings("train"),
        skt=variant_skt,
        seed=lambda wildcards: int(wildcards.seed),
        device=config["device"],
    threads: 2
    resources:
        gpu=1,
    log:
        "results/{dataset}/logs/evaluate/{study}_{variant}_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/evaluate/{study}_{variant}_seed{seed}.tsv"
    script:
        "../scripts/evaluate_skt.py"


rule evaluate_map:
    """Map-level evaluation of one probability map: test-part sites and all sites."""
    input:
        probability="results/{dataset}/maps/{map}_probability.tif",
        sites="results/{dataset}/prepare/sites.gpkg",
        meta="results/{dataset}/tiles/tiles.json",
    output:
        result="results/{dataset}/evaluation/maps/{map}.json",
    wildcard_constraints:
        map="[A-Za-z0-9_]+",
    params:
        evaluate=map_settings,
        seed=config["seed"],
    log:
        "results/{dataset}/logs/evaluate/map_{map}.log",
    benchmark:
        "results/{dataset}/benchmarks/evaluate/map_{map}.tsv"
    script:
        "../scripts/evaluate_map.py"


rule comparison_table:
    """Paper Table 3 (comparison.csv, comparison.md with the map-level table) and Table 4 (per_network.csv)."""
    input:
        runs=comparison_runs,
        skt=skt_runs,
        maps=map_results,
    output:
        csv="results/{dataset}/tables/comparison.csv",
        md="results/{dataset}/tables/comparison.md",
        per_network="results/{dataset}/tables/per_network.csv",
    log:
        "results/{dataset}/logs/tables/comparison.log",
    script:
        "../scripts/comparison_table.py"


rule ablation_table:
    """Paper Table 5: SKT with one part switched off, and the full model."""
    input:
        runs=ablation_runs,
    output:
        csv="results/{dataset}/tables/ablation.csv",
        md="results/{dataset}/tables/ablation.md",
    log:
        "results/{dataset}/logs/tables/ablation.log",
    script:
        "../scripts/ablation_table.py"


rule beta_sweep_table:
    """Paper Figure 6: SKT metrics against the self-distillation weight beta."""
    input:
        runs=beta_runs,
    output:
        csv="results/{dataset}/tables/beta_sweep.csv",
    log:
        "results/{dataset}/logs/tables/beta_sweep.log",
    script:
        "../scripts/beta_sweep_table.py"


rule map_evaluation_table:
    """Map-level results of all dense maps: curves (JSON, for the report) and a flat CSV."""
    input:
        maps=map_results,
    output:
        json="results/{dataset}/tables/map_evaluation.json",
        csv="results/{dataset}/tables/map_evaluation.csv",
    log:
        "results/{dataset}/logs/tables/map_evaluation.log",
    script:
        "../scripts/map_evaluation_table.py"


rule regions_table:
    """Methods across regions: every dataset's comparison and map-level scores side by side."""
    input:
        comparisons=expand("results/{dataset}/tables/comparison.csv", dataset=DATASETS),
        maps=expand("results/{dataset}/tables/map_evaluation.csv", dataset=DATASETS),
    output:
        csv="results/regions/comparison.csv",
        md="results/regions/comparison.md",
    params:
        regions=DATASETS,
    log:
        "results/regions/logs/comparison.log",
    script:
        "../scripts/regions_table.py"


def evaluation_targets(datasets):
    """Everything `all` asks of the evaluation stage; the beta sweep only where enabled."""
    out = []
    for d in datasets:
        out += [f"results/{d}/tables/{name}" for name in
                ("comparison.csv", "comparison.md", "per_network.csv", "ablation.csv", "map_evaluation.json")]
        if dataset_config(config, d)["evaluate"]["beta_sweep"]:
            out.append(f"results/{d}/tables/beta_sweep.csv")
    if len(datasets) > 1:
        out += ["results/regions/comparison.csv", "results/regions/comparison.md"]
    return out
