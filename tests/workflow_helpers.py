"""Run the real workflow with Snakemake on a tiny configuration."""

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def tiny_config():
    """The demo survey on a small grid with tiny windows and models: the whole DAG in about a minute."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    demo = config["datasets"]["demo"]
    demo["samples"] = str(REPO / demo["samples"])
    demo["sites"] = str(REPO / demo["sites"])
    config["interpolate"].update(width=128, height=128)
    config["tiles"].update(window=32, stride=16, test_fraction=0.25)
    config["source"]["epochs"] = 2
    config["skt"]["dilations"] = [1, 2, 3]
    config["model"]["width"] = 4
    config["train"].update(epochs=2, crop=28, batch_size=16)
    config["screen"]["auc_method"] = "rank"
    return config


def write_config(config, path):
    path = Path(path)
    path.write_text(yaml.safe_dump(copy.deepcopy(config), sort_keys=False))
    return path


def snakemake(workdir, configfile, *args, check=True):
    env = dict(os.environ, XDG_CACHE_HOME=str(Path(workdir) / ".cache"))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--resources", "gpu=1", "--configfile", str(configfile), "--cores", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-6000:]}")
    return result


def planned_rules(workdir, configfile, *targets):
    """Names of the rules a dry run would execute (from Snakemake's job-stats table)."""
    result = snakemake(workdir, configfile, "--dry-run", *targets)
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return set()
    table = text.split("Job stats:", 1)[1]
    rules = set()
    for line in table.splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)\s*$", line)
        if not m:
            if rules:
                break
            continue
        if m.group(1) != "total":
            rules.add(m.group(1))
    return rules
