# Spatial cross-validation (evaluate.cv). Sites are clustered; each fold holds out
# whole clusters, refits everything supervised (screening included) without them
# and without the ground within a buffer around them, and maps the grid. Every
# map is then scored at the sites it never saw, beside reference maps that need
# no training. Unsupervised products (prepare, IDW rasters) are shared with the
# paper's pipeline: adding folds never reruns them.

CV_TRAINED = method_pattern(*method_names("pixel", "window", "network", "skt"))
#: every method whose fold maps are scored: the above and the cell learners (rule cv_fit_cell)
CV_SCORED = method_pattern(*method_names(*TRAINED_KINDS))


rule reference_maps:
    """Maps that need no training: sampling density (the area every map is ranked over) and a robust anomaly."""
    conda:
        CONDA_ENV
    input:
        samples="results/{dataset}/prepare/samples.gpkg",
        rasters="results/{dataset}/rasters",
    output:
        density="results/{dataset}/maps/reference/sampling_density.tif",
        anomaly="results/{dataset}/maps/reference/robust_anomaly.tif",
        info="results/{dataset}/maps/reference/reference_maps.json",
    params:
        max_distance=lambda wildcards: dataset_view(wildcards.dataset)["interpolate"]["max_distance"],
        density_k=lambda wildcards: cv_settings(wildcards)["density_k"],
        seed=config["seed"],
    log:
        "results/{dataset}/logs/cv/reference_maps.log",
    benchmark:
        "results/{dataset}/benchmarks/cv/reference_maps.tsv"
    script:
        "../scripts/reference_maps.py"


rule commodity_map:
    """reference_commodity: the raster of the survey's declared commodity element(s), fixed before any test."""
    conda:
        CONDA_ENV
    input:
        rasters="results/{dataset}/rasters",
        density="results/{dataset}/maps/reference/sampling_density.tif",
        sites="results/{dataset}/prepare/sites.gpkg",
    output:
        map="results/{dataset}/maps/reference/commodity.tif",
        info="results/{dataset}/maps/reference/commodity.json",
    params:
        commodity=lambda wildcards: dataset_view(wildcards.dataset)["evaluate"]["commodity"],
        column=lambda wildcards: dataset_view(wildcards.dataset)["evaluate"]["commodity_column"],
    log:
        "results/{dataset}/logs/cv/commodity_map.log",
    script:
        "../scripts/commodity_map.py"


checkpoint cv_folds:
    """Site clusters and the folds that hold them out (the fold count depends on the sites)."""
    conda:
        CONDA_ENV
    input:
        sites="results/{dataset}/prepare/sites.gpkg",
        samples="results/{dataset}/prepare/samples.gpkg",
        density="results/{dataset}/maps/reference/sampling_density.tif",
    output:
        plan="results/{dataset}/cv/folds.json",
    params:
        # only what shapes the folds: adding a method or more bootstrap draws must not refit every fold
        cv=lambda wildcards: {
            k: cv_settings(wildcards)[k] for k in ("folds", "max_folds", "cluster_distance", "buffer")
        },
        # only what sizes the windows: other tiles settings must not rerun the folds and all after them
        tiles=lambda wildcards: {
            k: dataset_view(wildcards.dataset)["tiles"][k] for k in ("window", "stride", "window_spacings")
        },
        seed=config["seed"],
    log:
        "results/{dataset}/logs/cv/folds.log",
    script:
        "../scripts/cv_folds.py"


rule cv_stack:
    """Every element raster z-scored into one stack: each fold's models take the bands their screening selects."""
    conda:
        CONDA_ENV
    input:
        rasters="results/{dataset}/rasters",
    output:
        stack="results/{dataset}/cv/stack.tif",
        stats="results/{dataset}/cv/stack.json",
    params:
        stack=settings("stack"),
    log:
        "results/{dataset}/logs/cv/stack.log",
    benchmark:
        "results/{dataset}/benchmarks/cv/stack.tsv"
    script:
        "../scripts/cv_stack.py"


rule cv_tiles:
    """Windows over the whole grid (no north/south cut) for the window models' folds."""
    conda:
        CONDA_ENV
    input:
        stack="results/{dataset}/cv/stack.tif",
        sites="results/{dataset}/prepare/sites.gpkg",
        samples="results/{dataset}/prepare/samples.gpkg",
    output:
        windows="results/{dataset}/cv/tiles/windows.npy",
        index="results/{dataset}/cv/tiles/index.csv",
        gpkg="results/{dataset}/cv/tiles/index.gpkg",
        meta="results/{dataset}/cv/tiles/tiles.json",
    params:
        tiles=settings("tiles"),
    log:
        "results/{dataset}/logs/cv/tiles.log",
    benchmark:
        "results/{dataset}/benchmarks/cv/tiles.tsv"
    script:
        "../scripts/cv_tiles.py"


rule cv_screen:
    """Element screening of one fold: labels from its training sites only."""
    conda:
        CONDA_ENV
    input:
        samples="results/{dataset}/prepare/samples.gpkg",
        plan="results/{dataset}/cv/folds.json",
        stats="results/{dataset}/cv/stack.json",
    output:
        elements="results/{dataset}/cv/fold{fold}/elements.csv",
    wildcard_constraints:
        fold="[0-9]+",
    params:
        screen=settings("screen"),
        seed=config["seed"],
    threads: 4  # elements screened at once (scaled down to --cores)
    log:
        "results/{dataset}/logs/cv/screen_fold{fold}.log",
    benchmark:
        "results/{dataset}/benchmarks/cv/screen_fold{fold}.tsv"
    script:
        "../scripts/cv_screen.py"


rule cv_fit:
    """One trained method in one fold and seed: fitted without the fold's held-out sites, mapped over the grid."""
    conda:
        CONDA_ENV
    input:
        plan="results/{dataset}/cv/folds.json",
        elements="results/{dataset}/cv/fold{fold}/elements.csv",
        stack="results/{dataset}/cv/stack.tif",
        tiles=cv_tiles_if_needed,
        source_pool=cv_source_pool_if_needed,
    output:
        probability="results/{dataset}/cv/maps/{method}/seed{seed}/fold{fold}.tif",
    wildcard_constraints:
        method=CV_TRAINED,
        seed="[0-9]+",
        fold="[0-9]+",
    params:
        baselines=settings("baselines"),
        label_distance=pixel_label_distance,
        tiles=settings("tiles"),
        train=settings("train"),
        model=settings("model"),
        skt=settings("skt"),
        source=settings("source"),
        predict=settings("predict"),
        noise_variance=noise_variance,
        seed=lambda wildcards: int(wildcards.seed),
        device=config["device"],
        work="results/{dataset}/cv/models/{method}/seed{seed}/fold{fold}",
    threads: cv_fit_threads
    resources:
        gpu=lambda wildcards: 0 if method_kind(wildcards.method) in ("pixel", "window") else GPU,
    log:
        "results/{dataset}/logs/cv/{method}_seed{seed}_fold{fold}.log",
    benchmark:
        "results/{dataset}/benchmarks/cv/{method}_seed{seed}_fold{fold}.tsv"
    script:
        "../scripts/cv_fit.py"


rule cv_fit_cell:
    """A cell learner (weights of evidence, the anchored logistic model, the context forest) in one fold and seed."""
    conda:
        CONDA_ENV
    input:
        plan="results/{dataset}/cv/folds.json",
        elements="results/{dataset}/cv/fold{fold}/elements.csv",
        stack="results/{dataset}/cv/stack.tif",
        density="results/{dataset}/maps/reference/sampling_density.tif",
        commodity="results/{dataset}/maps/reference/commodity.tif",
    output:
        probability="results/{dataset}/cv/maps/{method}/seed{seed}/fold{fold}.tif",
        parts="results/{dataset}/cv/models/{method}/seed{seed}/fold{fold}/logit_shares.tif",
        model="results/{dataset}/cv/models/{method}/seed{seed}/fold{fold}/model.json",
    wildcard_constraints:
        method=method_pattern(*CELL_NAMES),
        seed="[0-9]+",
        fold="[0-9]+",
    params:
        learners=settings("learners"),
        label_distance=pixel_label_distance,
        seed=lambda wildcards: int(wildcards.seed),
    threads: lambda wildcards: 2 if wildcards.method == "context_forest" else 1
    log:
        "results/{dataset}/logs/cv/{method}_seed{seed}_fold{fold}.log",
    benchmark:
        "results/{dataset}/benchmarks/cv/{method}_seed{seed}_fold{fold}.tsv"
    script:
        "../scripts/cv_fit_cell.py"


rule cv_attribution:
    """What made a cell stand out (weights of evidence, the anchored model): each input's mean share of the
    logit over the folds as a styled multi-band map, and the top elements at every held-out site from the fold
    that held it out, as a table and a figure."""
    conda:
        CONDA_ENV
    input:
        plan="results/{dataset}/cv/folds.json",
        shares=cv_fold_shares,
    output:
        map="results/{dataset}/maps/{method}_attribution.tif",
        style="results/{dataset}/maps/{method}_attribution.qml",
        sites="results/{dataset}/tables/{method}_attribution_sites.csv",
        figure="results/{dataset}/tables/{method}_attribution_sites.png",
    wildcard_constraints:
        method=method_pattern(*ATTRIBUTED),
    log:
        "results/{dataset}/logs/cv/attribution_{method}.log",
    script:
        "../scripts/cv_attribution.py"


rule cv_ensemble:
    """evaluate.cv.ensemble: one fold's mean of the members' area ranks (a vote fixed by the config, not by scores)."""
    conda:
        CONDA_ENV
    input:
        density="results/{dataset}/maps/reference/sampling_density.tif",
        maps=cv_ensemble_maps,
    output:
        probability="results/{dataset}/cv/maps/ensemble/seed{seed}/fold{fold}.tif",
    wildcard_constraints:
        seed="[0-9]+",
        fold="[0-9]+",
    log:
        "results/{dataset}/logs/cv/ensemble_seed{seed}_fold{fold}.log",
    script:
        "../scripts/cv_ensemble.py"


rule cv_evaluate:
    """Held-out-site scores and window metrics of one trained method over all its folds and seeds."""
    conda:
        CONDA_ENV
    input:
        plan="results/{dataset}/cv/folds.json",
        density="results/{dataset}/maps/reference/sampling_density.tif",
        maps=cv_fold_maps,
    output:
        record="results/{dataset}/cv/evaluation/{method}.json",
    wildcard_constraints:
        method=CV_SCORED,
    params:
        tiles=settings("tiles"),
        seeds=lambda wildcards: eval_seeds(wildcards.dataset),
    log:
        "results/{dataset}/logs/cv/evaluate_{method}.log",
    script:
        "../scripts/cv_evaluate.py"


rule cv_uncertainty:
    """Spread map of one trained method: per-cell std of the probability across its fold models and seeds."""
    conda:
        CONDA_ENV
    input:
        maps=cv_fold_maps,
    output:
        spread="results/{dataset}/maps/{method}_uncertainty.tif",
    wildcard_constraints:
        method=CV_SCORED,
    log:
        "results/{dataset}/logs/cv/uncertainty_{method}.log",
    benchmark:
        "results/{dataset}/benchmarks/cv/uncertainty_{method}.tsv"
    script:
        "../scripts/cv_uncertainty.py"


rule cv_references:
    """Held-out-site scores of the maps that need no training: each element's raster, sampling density, anomaly."""
    conda:
        CONDA_ENV
    input:
        plan="results/{dataset}/cv/folds.json",
        rasters="results/{dataset}/rasters",
        density="results/{dataset}/maps/reference/sampling_density.tif",
        anomaly="results/{dataset}/maps/reference/robust_anomaly.tif",
        commodity="results/{dataset}/maps/reference/commodity.tif",
    output:
        record="results/{dataset}/cv/evaluation/references.json",
    params:
        tiles=settings("tiles"),
    log:
        "results/{dataset}/logs/cv/evaluate_references.log",
    script:
        "../scripts/cv_references.py"


rule cv_campaign:
    """Confound probe: a per-pixel model whose only feature is the campaign of the nearest sample, same folds."""
    conda:
        CONDA_ENV
    input:
        samples="results/{dataset}/prepare/samples.gpkg",
        plan="results/{dataset}/cv/folds.json",
        density="results/{dataset}/maps/reference/sampling_density.tif",
    output:
        record="results/{dataset}/cv/evaluation/campaign.json",
        maps=directory("results/{dataset}/cv/maps/campaign"),
    params:
        label_distance=pixel_label_distance,
        tiles=settings("tiles"),
    log:
        "results/{dataset}/logs/cv/campaign.log",
    script:
        "../scripts/cv_campaign.py"


rule cv_summary:
    """cv_summary.csv/.md (held-out-site AUC with 95 % CI per method, differences from the references fixed
    before the test), cv_windows.csv (window metrics), cv_sites.csv (every site's score) and cv_nested.csv."""
    conda:
        CONDA_ENV
    input:
        plan="results/{dataset}/cv/folds.json",
        records=cv_records,
    output:
        csv="results/{dataset}/tables/cv_summary.csv",
        md="results/{dataset}/tables/cv_summary.md",
        windows="results/{dataset}/tables/cv_windows.csv",
        sites="results/{dataset}/tables/cv_sites.csv",
        nested="results/{dataset}/tables/cv_nested.csv",
    params:
        fractions=lambda wildcards: dataset_view(wildcards.dataset)["evaluate"]["area_fractions"],
        n_boot=lambda wildcards: cv_settings(wildcards)["n_boot"],
        seed=config["seed"],
    log:
        "results/{dataset}/logs/cv/summary.log",
    script:
        "../scripts/cv_summary.py"


rule gad_protocol:
    """The published GeoChemAD / OpenGADBench AUC of every map read at the samples, for comparison only."""
    conda:
        CONDA_ENV
    input:
        samples="results/{dataset}/prepare/samples.gpkg",
        sites="results/{dataset}/prepare/sites.gpkg",
        plan="results/{dataset}/cv/folds.json",
        rasters="results/{dataset}/rasters",
        density="results/{dataset}/maps/reference/sampling_density.tif",
        anomaly="results/{dataset}/maps/reference/robust_anomaly.tif",
        records=cv_records,
    output:
        csv="results/{dataset}/tables/gad_protocol.csv",
    log:
        "results/{dataset}/logs/cv/gad_protocol.log",
    script:
        "../scripts/gad_protocol.py"


rule regions_cv_table:
    """Cross-validated held-out-site AUC of every region side by side, with mean ranks."""
    conda:
        CONDA_ENV
    input:
        summaries=lambda wildcards: [f"results/{d}/tables/cv_summary.csv" for d in DATASETS if cv_enabled(d)],
    output:
        csv="results/regions/cv_summary.csv",
        md="results/regions/cv_summary.md",
    params:
        regions=[d for d in DATASETS if cv_enabled(d)],
    log:
        "results/regions/logs/cv_summary.log",
    script:
        "../scripts/regions_cv_table.py"
