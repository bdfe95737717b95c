# SKT prospectivity workflow (Huang et al. 2022), from raw survey to maps.
# Run: snakemake --cores 8 --resources gpu=1   (see README.md)

import os
import sys

from snakemake.utils import min_version

min_version("9.0")

# Scripts run in their own interpreter: make the package importable there too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")]))
sys.path.insert(0, workflow.basedir)

from pipeline.config import dataset_config, validate_config  # noqa: E402


configfile: "config.yaml"


validate_config(config, source="config")
DATASETS = list(config["datasets"])


include: "workflow/rules/common.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/screen.smk"
include: "workflow/rules/interpolate.smk"
include: "workflow/rules/stack.smk"
include: "workflow/rules/tiles.smk"


rule all:
    default_target: True
    input:
        expand("results/{dataset}/tiles/index.gpkg", dataset=DATASETS),
