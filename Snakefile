# SKT prospectivity workflow (Huang et al. 2022), from raw survey to maps.
# Run: snakemake --cores 8 --resources gpu=1   (see README.md)

import os
import sys

from snakemake.utils import min_version

min_version("9.0")

# Scripts run in their own interpreter: make the package importable there too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")]))
sys.path.insert(0, workflow.basedir)
# Idle OpenMP threads spin by default; with several CPU jobs on a few cores that
# slows torch 5-20x (measured on 2 cores).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pipeline.config import dataset_config, validate_config  # noqa: E402

# `--configfile FILE` replaces config.yaml instead of being merged into it: merged,
# config.yaml's demo dataset would run too, under FILE's settings. Keys FILE
# leaves out take the schema's defaults.
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


validate_config(config, source="config")
DATASETS = list(config["datasets"])
# every rule's software, for `--software-deployment-method conda` (the same pins as envs/requirements.txt)
CONDA_ENV = os.path.join(workflow.basedir, "envs", "environment.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/screen.smk"
include: "workflow/rules/interpolate.smk"
include: "workflow/rules/stack.smk"
include: "workflow/rules/tiles.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/ablation.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/cv.smk"
include: "workflow/rules/pooled.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        expand("results/{dataset}/tiles/index.gpkg", dataset=DATASETS),
        expand("results/{dataset}/maps/skt_probability.tif", dataset=DATASETS),
        expand("results/{dataset}/maps/skt_windows.gpkg", dataset=DATASETS),
        evaluation_targets(DATASETS),
        cv_targets(DATASETS),
        expand("results/{dataset}/report/report.html", dataset=DATASETS),
        expand("results/{dataset}/config/effective.yaml", dataset=DATASETS),


rule maps:
    """What a geologist opens (`skt run`'s default target): the SKT map and its style, the maps that need no
    training, and with the cross-validation on, each trained method's spread map and the held-out-site table."""
    input:
        map_targets(DATASETS),
