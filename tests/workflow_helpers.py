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
    demo["truth"] = str(REPO / demo["truth"])
    config["interpolate"].update(width=128, height=128)
    config["tiles"].update(window=32, stride=16, test_fraction=0.25)
    config["source"]["epochs"] = 2
    config["skt"]["dilations"] = [1, 2, 3]
    config["model"]["width"] = 4
    config["train"].update(epochs=2, crop=28, batch_size=16)
    config["screen"]["auc_method"] = "rank"
    # one baseline of each kind and one ablation (the one without a source network)
    config["baselines"].update(classical=["decision_tree"], pixel=["decision_tree"], cnn=["mobilenet_v2"],
                               cnn_width=0.25)
    config["evaluate"].update(ablations=["r_sk_transfer"], n_background=2000)
    # cross-validation: one per-pixel model over three folds (the 128-cell grid is 49 km wide)
    config["evaluate"]["cv"] = {"methods": ["decision_tree_pixel"], "max_folds": 3, "buffer": 3000.0}
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


def copy_workdir(src, dst):
    """Copy a workflow directory with its Snakemake metadata and file times, so that the
    copy continues where the original stopped."""
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    return Path(dst)


def start_snakemake(workdir, configfile, *args, preexec_fn=None):
    """Start Snakemake in a process group of its own (so that a test can signal the
    whole run, as a terminal, `timeout` or a cluster scheduler does); output goes to
    ``workdir/snakemake.out``."""
    env = dict(os.environ, XDG_CACHE_HOME=str(Path(workdir) / ".cache"))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--resources", "gpu=1", "--configfile", str(configfile), "--cores", "2", *args]
    out = open(Path(workdir) / "snakemake.out", "w")
    try:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                preexec_fn=preexec_fn)
    finally:
        out.close()


def kill_when(proc, condition, sig, timeout=600.0, poll=0.01):
    """Send ``sig`` to the process group of ``proc`` as soon as ``condition()`` holds;
    returns the exit status. Fails if the run ends or ``timeout`` passes first."""
    import signal
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (status {proc.returncode}) before the moment to kill it")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"no moment to kill the run came within {timeout} s")
        time.sleep(poll)
    os.killpg(proc.pid, sig)
    try:
        return proc.wait(timeout=120)
    finally:
        # Snakemake exits after its jobs; make sure nothing of the group lingers
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def temp_files(folder):
    """Temporary files of atomic writes (``.{stem}.*.part{suffix}``) anywhere under ``folder``."""
    return sorted(p for p in Path(folder).rglob(".*") if ".part" in p.name)
