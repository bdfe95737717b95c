# Evaluation: SKT models scored with the same window metrics as the baselines
# (pipeline.evaluation.metrics), map-level evaluation of every dense map, and
# the tables of the paper (3: comparison, 4: per network, 5: ablation, Figure 6:
# beta sweep) with mean and std over evaluate.seeds.


rule evaluate_skt:
    """Window metrics of one SKT model (each target network and the vote) on the test split."""
    conda:
        CONDA_ENV
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
        gpu=GPU,
    log:
        "results/{dataset}/logs/evaluate/{study}_{variant}_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/evaluate/{study}_{variant}_seed{seed}.tsv"
    script:
        "../scripts/evaluate_skt.py"


rule evaluate_map:
    """Map-level evaluation of one probability map: test-part sites and all sites."""
    conda:
        CONDA_ENV
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
    conda:
        CONDA_ENV
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
    conda:
        CONDA_ENV
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
    conda:
        CONDA_ENV
    input:
        runs=beta_runs,
    output:
        csv="results/{dataset}/tables/beta_sweep.csv",
    log:
        "results/{dataset}/logs/tables/beta_sweep.log",
    script:
        "../scripts/beta_sweep_table.py"


rule truth_auc:
    """Every map (trained and reference, the references fixed before the test among them) against a synthetic
    survey's true deposit field."""
    conda:
        CONDA_ENV
    input:
        truth=dataset_path("truth"),
        maps=dense_map_files,
        rasters="results/{dataset}/rasters",
        density="results/{dataset}/maps/reference/sampling_density.tif",
        anomaly="results/{dataset}/maps/reference/robust_anomaly.tif",
        commodity="results/{dataset}/maps/reference/commodity.tif",
        commodity_info="results/{dataset}/maps/reference/commodity.json",
        sites="results/{dataset}/prepare/sites.gpkg",
        tiles="results/{dataset}/tiles/tiles.json",
    output:
        csv="results/{dataset}/tables/truth_auc.csv",
    params:
        names=lambda wildcards: dense_maps(wildcards.dataset),
    log:
        "results/{dataset}/logs/tables/truth_auc.log",
    script:
        "../scripts/truth_auc.py"


rule map_evaluation_table:
    """Map-level results of all dense maps: curves (JSON, for the report) and a flat CSV."""
    conda:
        CONDA_ENV
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
    conda:
        CONDA_ENV
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
