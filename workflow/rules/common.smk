# The functions the rules call for their inputs and params, all in one place
# (included first, so every rule file can use them). Everything a rule reads from
# the config goes through params: so that changing it reruns that rule and what
# depends on it.

import functools
import re

# names only: pipeline.methods imports nothing heavy, so parsing the workflow stays fast
from pipeline.device_plan import gpu_token, network_threads
from pipeline.methods import (
    ABLATIONS,
    ATTRIBUTED,
    CELL_LEARNERS as CELL_NAMES,
    CLASSICAL as CLASSICAL_NAMES,
    CNNS as CNN_NAMES,
)
from pipeline.methods import TRAINED_KINDS, kind as method_kind, names as method_names, pattern as method_pattern

# the gpu token and the threads of a network job (pipeline.device_plan): on a machine without a GPU the
# networks run side by side within --cores instead of one at a time
GPU = gpu_token(config["device"])
try:
    _TOTAL_CORES = workflow.cores
except Exception:  # a cluster executor (each job on its own node) defines no total
    _TOTAL_CORES = None
NET_THREADS = network_threads(_TOTAL_CORES, GPU)


# only the datasets of this config: results/{other}/... of a survey run with its own config file (read by
# the pooled rule) is then an existing input, not a job whose settings this config does not hold
wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS),


@functools.cache
def dataset_view(dataset):
    """One dataset's settings (pipeline.config.dataset_config), worked out once per run: input and params
    functions ask for them hundreds of times while Snakemake builds the DAG. Read it, never change it."""
    return dataset_config(config, dataset)


def settings(section):
    """params: function giving one config section as seen by a dataset."""

    def get(wildcards):
        return dataset_view(wildcards.dataset)[section]

    return get


def dataset_path(key):
    """input: function giving a dataset's file path with environment variables expanded."""
    from pipeline.paths import expand_path

    def get(wildcards):
        return expand_path(config["datasets"][wildcards.dataset][key], f"datasets.{wildcards.dataset}.{key}")

    return get


# --- source and target training (train.smk) -----------------------------------


def source_tiles(wildcards):
    """Tiles the source network learns from: this dataset's, another's (source.task:
    dataset) or the pool of several datasets' labelled windows (datasets)."""
    src = dataset_view(wildcards.dataset)["source"]
    if src["task"] == "datasets":
        return source_pool_files(wildcards)
    name = src["dataset"] if src["task"] == "dataset" else wildcards.dataset
    return [f"results/{name}/tiles/{f}" for f in TILE_FILES]


def source_pool_files(wildcards):
    return [f"results/{wildcards.dataset}/source_pool/{f}" for f in TILE_FILES]


def source_elements_from(wildcards):
    """With source.task: datasets, the tiles whose elements the pooled source sees (this dataset's)."""
    if dataset_view(wildcards.dataset)["source"]["task"] != "datasets":
        return []
    return [f"results/{wildcards.dataset}/tiles/tiles.json"]


def source_pool_inputs(kind):
    """input: function giving each source dataset's cross-validation stack or prepared sites."""
    path = {"stacks": "results/{d}/cv/stack.tif", "sites": "results/{d}/prepare/sites.gpkg"}[kind]

    def get(wildcards):
        return [path.format(d=d) for d in dataset_view(wildcards.dataset)["source"]["datasets"]]

    return get


def cv_source_pool_if_needed(wildcards):
    """The source pool for SKT's folds (source.task: datasets)."""
    if wildcards.method != "skt" or dataset_view(wildcards.dataset)["source"]["task"] != "datasets":
        return []
    return source_pool_files(wildcards)


def source_network(wildcards):
    """The source network file train_skt transfers from; none when transfer is off."""
    view = dataset_view(wildcards.dataset)
    if not view["skt"]["transfer"]:
        return []
    if view["source"]["task"] == "checkpoint":
        from pipeline.paths import expand_path

        return [expand_path(view["source"]["checkpoint"], "source.checkpoint")]
    return [f"results/{wildcards.dataset}/models/source.pt"]


# --- seeds and SKT variants (ablation.smk) ------------------------------------


def model_dir(dataset, seed):
    """Where the source and SKT models of one seed live."""
    if int(seed) == MAIN_SEED:
        return f"results/{dataset}/models"
    return f"results/{dataset}/models/seeds/{seed}"


def seeded_source(wildcards):
    """The source network an SKT model of this seed transfers from (none when transfer is off)."""
    view = dataset_view(wildcards.dataset)
    if not variant_skt(wildcards)["transfer"]:
        return []
    if view["source"]["task"] == "checkpoint":
        from pipeline.paths import expand_path

        return [expand_path(view["source"]["checkpoint"], "source.checkpoint")]
    return [f"{model_dir(wildcards.dataset, wildcards.seed)}/source.pt"]


def beta_of(variant):
    return float(variant[len("beta") :])


def variant_skt(wildcards):
    """The skt section of one variant: the dataset's, with the variant's override."""
    skt = dict(dataset_view(wildcards.dataset)["skt"])
    study, variant = getattr(wildcards, "study", None), getattr(wildcards, "variant", None)
    if study == "ablation":
        skt.update(ABLATIONS[variant][1])
    elif study == "beta_sweep":
        skt["beta"] = beta_of(variant)
    return skt


def skt_model(dataset, study, variant, seed):
    """Model file of one SKT variant; a beta equal to skt.beta is the full model itself."""
    if study == "beta_sweep":
        if beta_of(variant) == float(dataset_view(dataset)["skt"]["beta"]):
            study = "skt"
    if study == "skt":
        return f"{model_dir(dataset, seed)}/skt.pt"
    return f"results/{dataset}/models/{study}/{variant}/seed{seed}/skt.pt"


# --- baselines (baselines.smk) ------------------------------------------------


def eval_seeds(dataset):
    """The seeds every method runs with (evaluate.seeds, default [seed])."""
    seeds = dataset_view(dataset)["evaluate"]["seeds"] or [MAIN_SEED]
    return list(dict.fromkeys(int(s) for s in seeds))


def baseline_settings(*keys):
    """params: function giving some keys of the baselines section."""

    def get(wildcards):
        view = dataset_view(wildcards.dataset)["baselines"]
        return {k: view[k] for k in keys}

    return get


def pixel_label_distance(wildcards):
    view = dataset_view(wildcards.dataset)
    return view["baselines"]["pixel_label_distance"] or view["screen"]["label_radius"]


def noise_variance(wildcards):
    return dataset_view(wildcards.dataset)["train"]["noise_variance"]


# --- evaluation and tables (evaluate.smk) -------------------------------------


def map_settings(wildcards):
    view = dataset_view(wildcards.dataset)["evaluate"]
    return {k: view[k] for k in ("area_fractions", "n_background", "background_min_distance")}


def comparison_runs(wildcards):
    """Run records of every method and seed, in table order: classical (windows, then pixels), CNNs, SKT."""
    view = dataset_view(wildcards.dataset)["baselines"]
    seeds = eval_seeds(wildcards.dataset)
    methods = [m for m in CLASSICAL_NAMES if m in view["classical"]]
    methods += [f"{m}_pixel" for m in CLASSICAL_NAMES if m in view["pixel"]]  # baselines.pixel names the classical ones
    methods += [m for m in CNN_NAMES if m in view["cnn"]]
    runs = [f"results/{wildcards.dataset}/baselines/{m}/seed{s}/metrics.json" for m in methods for s in seeds]
    return runs + skt_runs(wildcards)


def skt_runs(wildcards):
    return [f"results/{wildcards.dataset}/evaluation/skt/full/seed{s}.json" for s in eval_seeds(wildcards.dataset)]


def ablation_runs(wildcards):
    variants = dataset_view(wildcards.dataset)["evaluate"]["ablations"]
    return [
        f"results/{wildcards.dataset}/evaluation/ablation/{v}/seed{s}.json"
        for v in variants
        for s in eval_seeds(wildcards.dataset)
    ] + skt_runs(wildcards)


def beta_runs(wildcards):
    betas = dataset_view(wildcards.dataset)["evaluate"]["betas"]
    return [
        f"results/{wildcards.dataset}/evaluation/beta_sweep/beta{b:g}/seed{s}.json"
        for b in betas
        for s in eval_seeds(wildcards.dataset)
    ]


def dense_maps(dataset):
    """Names of the probability maps evaluated: SKT's and each dense baseline's."""
    view = dataset_view(dataset)["baselines"]
    return (
        ["skt"]
        + [f"{m}_pixel" for m in CLASSICAL_NAMES if m in view["pixel"]]
        + [m for m in CNN_NAMES if m in view["cnn"]]
    )


def window_score_maps(wildcards):
    """Named inputs of test_window_scores: each dense baseline's map (dense_{name}); SKT's windows score SKT."""
    d = wildcards.dataset
    return {f"dense_{m}": f"results/{d}/maps/{m}_probability.tif" for m in dense_maps(d) if m != "skt"}


def dense_map_files(wildcards):
    return [f"results/{wildcards.dataset}/maps/{m}_probability.tif" for m in dense_maps(wildcards.dataset)]


def map_results(wildcards):
    return [f"results/{wildcards.dataset}/evaluation/maps/{m}.json" for m in dense_maps(wildcards.dataset)]


def evaluated_model(wildcards):
    return skt_model(wildcards.dataset, wildcards.study, wildcards.variant, wildcards.seed)


def evaluation_targets(datasets):
    """Everything `all` asks of the evaluation stage; the beta sweep only where enabled."""
    out = []
    for d in datasets:
        out += [
            f"results/{d}/tables/{name}"
            for name in ("comparison.csv", "comparison.md", "per_network.csv", "ablation.csv", "map_evaluation.json")
        ]
        if dataset_view(d)["evaluate"]["beta_sweep"]:
            out.append(f"results/{d}/tables/beta_sweep.csv")
        if config["datasets"][d].get("truth"):
            out.append(f"results/{d}/tables/truth_auc.csv")
    if len(datasets) > 1:
        out += ["results/regions/comparison.csv", "results/regions/comparison.md"]
    return out


def map_targets(datasets):
    """The maps of `snakemake maps`: SKT's with its style, the references, and under CV the spread maps
    with their styles and cv_summary; and the effective settings they were made with."""
    out = []
    for d in datasets:
        out.append(f"results/{d}/config/effective.yaml")
        out += [f"results/{d}/maps/skt_probability.{ext}" for ext in ("tif", "qml")]
        out += [
            f"results/{d}/maps/reference/{name}.tif" for name in ("sampling_density", "robust_anomaly", "commodity")
        ]
        if cv_enabled(d):
            out += cv_map_targets(d)
            out += [f"results/{d}/tables/cv_summary.{ext}" for ext in ("csv", "md")]
    return out


# --- report (report.smk) ------------------------------------------------------


def report_inputs(wildcards):
    """Named inputs of the report that depend on the settings: the evaluation
    tables (beta sweep only where enabled), the source network's log (only when
    this dataset trains one), each dense baseline map and every map's style, and
    with the cross-validation on, each trained method's spread map and its style."""
    d = wildcards.dataset
    view = dataset_view(d)
    out = {
        name: f"results/{d}/tables/{name}.{ext}"
        for name, ext in (
            ("comparison", "csv"),
            ("per_network", "csv"),
            ("ablation", "csv"),
            ("map_evaluation", "json"),
        )
    }
    if view["evaluate"]["beta_sweep"]:
        out["beta_sweep"] = f"results/{d}/tables/beta_sweep.csv"
    if cv_enabled(d):
        out["cv_summary"] = f"results/{d}/tables/cv_summary.csv"
        for name in cv_attributed(d):
            out[f"attribution_{name}"] = f"results/{d}/tables/{name}_attribution_sites.png"
            out[f"attribution_sites_{name}"] = f"results/{d}/tables/{name}_attribution_sites.csv"
        for name in cv_methods(d):
            out[f"uncertainty_{name}"] = f"results/{d}/maps/{name}_uncertainty.tif"
            out[f"style_{name}_uncertainty"] = f"results/{d}/maps/{name}_uncertainty.qml"
    if source_network(wildcards) == [f"results/{d}/models/source.pt"]:
        out["source_log"] = f"results/{d}/models/source_log.csv"
    for name in dense_maps(d):
        if name != "skt":
            out[f"dense_{name}"] = f"results/{d}/maps/{name}_probability.tif"
        out[f"style_{name}"] = f"results/{d}/maps/{name}_probability.qml"
    return out


# --- spatial cross-validation (cv.smk) ----------------------------------------


def cv_fit_threads(wildcards):
    """The per-pixel SVM and tree run on one core (two share a 2-core machine), the other classical
    models on two, the networks on NET_THREADS."""
    method = wildcards.method
    if method in ("svm_pixel", "decision_tree_pixel"):
        return 1
    if method_kind(method) in ("pixel", "window"):
        return 2
    return NET_THREADS


def cv_settings(wildcards):
    return dataset_view(wildcards.dataset)["evaluate"]["cv"]


def cv_enabled(dataset):
    return dataset_view(dataset)["evaluate"]["cv"]["folds"] != 0


def cv_methods(dataset):
    """Methods scored per fold: the trained ones (cv_trained_methods) and, when
    evaluate.cv.ensemble is set, 'ensemble'."""
    return cv_trained_methods(dataset) + (["ensemble"] if cv_ensemble_members(dataset) else [])


def cv_ensemble_members(dataset):
    """The methods whose fold maps evaluate.cv.ensemble averages (none when unset)."""
    chosen = dataset_view(dataset)["evaluate"]["cv"]["ensemble"]
    trained = cv_trained_methods(dataset)
    if chosen is None:
        return []
    if chosen == "all":
        return trained
    unknown = [m for m in chosen if m not in trained]
    if unknown:
        raise ValueError(
            f"datasets.{dataset}: evaluate.cv.ensemble names {', '.join(unknown)}, which "
            f"evaluate.cv.methods does not run ({', '.join(trained)})"
        )
    return list(chosen)


def cv_ensemble_maps(wildcards):
    """The members' maps of one fold and seed."""
    return [
        f"results/{wildcards.dataset}/cv/maps/{m}/seed{wildcards.seed}/fold{wildcards.fold}.tif"
        for m in cv_ensemble_members(wildcards.dataset)
    ]


def cv_trained_methods(dataset):
    """Trained methods refitted per fold: evaluate.cv.methods, or every configured one for 'all'."""
    view = dataset_view(dataset)
    chosen = view["evaluate"]["cv"]["methods"]
    if chosen == "all":
        b = view["baselines"]
        return (
            [f"{m}_pixel" for m in CLASSICAL_NAMES if m in b["pixel"]]
            + [m for m in CLASSICAL_NAMES if m in b["classical"]]
            + [m for m in CNN_NAMES if m in b["cnn"]]
            + ["skt"]
            + list(CELL_NAMES)
        )
    return list(chosen)


def cv_fold_count(wildcards):
    """Folds of the dataset's plan (the cv_folds checkpoint decides it from the sites)."""
    import json

    with checkpoints.cv_folds.get(dataset=wildcards.dataset).output.plan.open() as f:
        return int(json.load(f)["n_folds"])


def cv_fold_maps(wildcards):
    """Every fold map of one trained method, for every seed."""
    n = cv_fold_count(wildcards)
    return [
        f"results/{wildcards.dataset}/cv/maps/{wildcards.method}/seed{s}/fold{k}.tif"
        for s in eval_seeds(wildcards.dataset)
        for k in range(n)
    ]


def cv_attributed(dataset):
    return [m for m in cv_trained_methods(dataset) if m in ATTRIBUTED]


def cv_fold_shares(wildcards):
    """Every fold's and seed's logit shares of one decomposing learner."""
    n = cv_fold_count(wildcards)
    return [
        f"results/{wildcards.dataset}/cv/models/{wildcards.method}/seed{s}/fold{k}/logit_shares.tif"
        for s in eval_seeds(wildcards.dataset)
        for k in range(n)
    ]


def cv_map_targets(dataset):
    """The cross-validation's maps of one dataset: each scored method's spread map and style, and each
    decomposing learner's attribution map, style, sites table and figure."""
    out = [f"results/{dataset}/maps/{m}_uncertainty.{ext}" for m in cv_methods(dataset) for ext in ("tif", "qml")]
    return out + [
        f"results/{dataset}/{part}"
        for m in cv_attributed(dataset)
        for part in (
            f"maps/{m}_attribution.tif",
            f"maps/{m}_attribution.qml",
            f"tables/{m}_attribution_sites.csv",
            f"tables/{m}_attribution_sites.png",
        )
    ]


def cv_records(wildcards):
    """Evaluation records of the references, the probes and every trained method."""
    d = wildcards.dataset
    out = [f"results/{d}/cv/evaluation/references.json"]
    if config["datasets"][d].get("campaign_column"):
        out.append(f"results/{d}/cv/evaluation/campaign.json")
    return out + [f"results/{d}/cv/evaluation/{m}.json" for m in cv_methods(d)]


def cv_tiles_if_needed(wildcards):
    """The cross-validation tiles, only for the window models."""
    if method_kind(wildcards.method) in ("pixel", "cell"):
        return []
    return [f"results/{wildcards.dataset}/cv/tiles/{f}" for f in TILE_FILES]


def cv_targets(datasets):
    out = []
    for d in datasets:
        if cv_enabled(d):
            out += [
                f"results/{d}/tables/{name}"
                for name in (
                    "cv_summary.csv",
                    "cv_summary.md",
                    "cv_windows.csv",
                    "cv_sites.csv",
                    "cv_nested.csv",
                    "gad_protocol.csv",
                )
            ]
            out += cv_map_targets(d)
    if sum(cv_enabled(d) for d in datasets) > 1:
        out += ["results/regions/cv_summary.csv", "results/regions/cv_summary.md"]
    return out


# --- the pooled test over surveys (pooled.smk) ---------------------------------


def pooled_site_tables(wildcards):
    """Each pooled survey's cv_sites.csv: made here for a dataset of this config, else it must exist already."""
    from pipeline.errors import InputError

    out = []
    for name in config["pooled"]["surveys"]:
        path = f"results/{name}/tables/cv_sites.csv"
        if name not in DATASETS and not os.path.exists(path):
            raise InputError(
                f"pooled.surveys names {name!r}, which is not a dataset of this config "
                f"({', '.join(DATASETS)}) and has no {path} yet: run its cross-validation first "
                f"(snakemake --configfile config/{name}.yaml {path}), or run "
                "snakemake pooled --configfile config/regions.yaml, which holds the real surveys"
            )
        if name in DATASETS and not cv_enabled(name):
            raise InputError(f"pooled.surveys names {name!r}, whose cross-validation is off " "(evaluate.cv.folds: 0)")
        out.append(path)
    return out
