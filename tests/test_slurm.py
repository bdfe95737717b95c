"""The cluster profiles, and the tiny workflow run through a real single-node SLURM.

The live tests start munged, slurmctld and slurmd in a temp folder
(tests/slurm_cluster.py) and submit with snakemake-executor-plugin-slurm.
They skip when the SLURM programs or the plugin are missing, unless CI is
set: there .ci/setup_slurm.sh has installed them and the tests must run.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
import yaml

from slurm_cluster import LocalSlurm, missing_binaries
from workflow_helpers import REPO, tiny_config, write_config

pytestmark = pytest.mark.workflow

SLURM_PROFILE = REPO / "profiles" / "slurm"
LOCAL_PROFILE = REPO / "profiles" / "local"
TARGET = "results/demo/tiles/index.gpkg"
TINY_RULES = ("prepare", "screen", "interpolate", "stack", "tiles")
GPU_RULES = ("train_source", "train_skt")

PLUGIN_MISSING = importlib.util.find_spec("snakemake_executor_plugin_slurm") is None
MISSING = missing_binaries() + (["snakemake-executor-plugin-slurm"] if PLUGIN_MISSING else [])
IN_CI = bool(os.environ.get("CI"))

needs_plugin = pytest.mark.skipif(
    PLUGIN_MISSING and not IN_CI,
    reason="snakemake-executor-plugin-slurm not installed (pip install -r envs/requirements-cluster.txt)")
needs_slurm = pytest.mark.skipif(
    bool(MISSING) and not IN_CI,
    reason=f"not installed: {', '.join(MISSING)} (run .ci/setup_slurm.sh as root)")

# Stand-ins named like the training rules, declaring no resources of their
# own: whatever they get comes from the profile. Each writes the GPU the job
# step was given.
STANDIN_SNAKEFILE = """
rule all:
    input: "train_source.txt", "train_skt.txt"

rule train_source:
    output: "train_source.txt"
    shell: "echo job=${{SLURM_JOB_ID:-none}} gpus=${{SLURM_STEP_GPUS:-none}} cuda=${{CUDA_VISIBLE_DEVICES:-none}} > {output}"

rule train_skt:
    output: "train_skt.txt"
    shell: "echo job=${{SLURM_JOB_ID:-none}} gpus=${{SLURM_STEP_GPUS:-none}} cuda=${{CUDA_VISIBLE_DEVICES:-none}} > {output}"
"""


def profile_resources(profile_dir, rule):
    """Resources the profile gives `rule`: its default-resources updated by its set-resources."""
    profile = yaml.safe_load((Path(profile_dir) / "config.yaml").read_text())
    resources = dict(profile.get("default-resources") or {})
    resources.update((profile.get("set-resources") or {}).get(rule, {}))
    return resources


def run_snakemake(snakefile, workdir, *args, env=None, timeout=600):
    env = dict(os.environ if env is None else env, XDG_CACHE_HOME=str(Path(workdir) / ".cache"))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(workdir), *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"snakemake ran past {timeout} s:\n{(e.stdout or b'')[-4000:]}\n"
                             f"{(e.stderr or b'')[-6000:]}") from None


def require_ok(result, extra=""):
    if result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-8000:]}\n{extra}")
    return result.stdout + result.stderr


def planned_resources(text):
    """{rule: {resource: value}} from the job blocks a dry run prints."""
    planned, rule = {}, None
    for line in text.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if m:
            rule = m.group(1)
            continue
        if rule and line.strip().startswith("resources:"):
            pairs = (item.split("=", 1) for item in line.split(":", 1)[1].split(", "))
            planned[rule] = {k.strip(): v.strip() for k, v in pairs}
            rule = None
    return planned


def assert_profile_applied(planned, profile_dir, rules):
    for rule in rules:
        assert rule in planned, f"{rule} not planned: {sorted(planned)}"
        for key, value in profile_resources(profile_dir, rule).items():
            assert planned[rule].get(key) == str(value), (rule, key, planned[rule])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    work = tmp_path_factory.mktemp("tiny")
    return work, write_config(tiny_config(), work / "config.yaml")


@pytest.fixture
def standin(tmp_path):
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(STANDIN_SNAKEFILE)
    return snakefile


# Dry runs: what each profile asks for, rule by rule -------------------------

@needs_plugin
def test_slurm_profile_sets_memory_and_runtime_of_every_rule(tiny):
    work, configfile = tiny
    # the whole default DAG, so the GPU rules are checked wherever the workflow has them
    text = require_ok(run_snakemake(REPO / "Snakefile", work, "--profile", str(SLURM_PROFILE),
                                    "--configfile", str(configfile), "--dry-run"))
    planned = planned_resources(text)
    assert set(TINY_RULES) <= set(planned)
    assert_profile_applied(planned, SLURM_PROFILE, [r for r in planned if r != "all"])
    for rule in TINY_RULES:
        assert "gpu" not in planned[rule]
    for rule in set(GPU_RULES) & set(planned):
        assert planned[rule]["gpu"] == "1"


@needs_plugin
def test_slurm_profile_gives_training_rules_a_gpu(standin):
    text = require_ok(run_snakemake(standin, standin.parent, "--profile", str(SLURM_PROFILE), "--dry-run"))
    planned = planned_resources(text)
    assert_profile_applied(planned, SLURM_PROFILE, GPU_RULES)
    for rule in GPU_RULES:
        assert planned[rule]["gpu"] == "1"
        assert int(planned[rule]["mem_mb"]) > int(planned.get("all", {}).get("mem_mb", 0))


def test_local_profile_plans_the_workflow_and_serialises_gpu_rules(tiny, standin):
    work, configfile = tiny
    text = require_ok(run_snakemake(REPO / "Snakefile", work, "--profile", str(LOCAL_PROFILE),
                                    "--configfile", str(configfile), "--dry-run"))
    planned = planned_resources(text)
    assert set(TINY_RULES) <= set(planned)
    assert all(planned[rule]["gpu"] == "1" for rule in set(GPU_RULES) & set(planned))
    text = require_ok(run_snakemake(standin, standin.parent, "--profile", str(LOCAL_PROFILE), "--dry-run"))
    planned = planned_resources(text)
    assert all(planned[rule]["gpu"] == "1" for rule in GPU_RULES)


# A real SLURM ------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if MISSING and not IN_CI:
        pytest.skip(f"not installed: {', '.join(MISSING)} (run .ci/setup_slurm.sh as root)")
    # One counted GPU with no device behind it: enough for SLURM to accept,
    # schedule and hand out a --gpus request, not to compute on one.
    # The node advertises the largest memory the profile asks for (nothing
    # enforces it here; the tiny run needs well under 1 GB), and as many CPUs as
    # the hungriest rule's threads (training's 8; screening asks 4): sbatch
    # --cpus-per-task follows `threads:`, and a job asking more than the node has
    # would wait forever.
    profile = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    asked = [profile["default-resources"]] + list(profile["set-resources"].values())
    memory = max(int(r.get("mem_mb", 0)) for r in asked)
    slurm = LocalSlurm(tmp_path_factory.mktemp("slurm"), cpus=8, real_memory_mb=memory, gpus=1)
    slurm.start()
    try:
        yield slurm
    finally:
        slurm.stop()


@needs_slurm
def test_cluster_stops_every_daemon_it_started_even_on_failure(tmp_path):
    slurm = LocalSlurm(tmp_path / "slurm")
    with pytest.raises(RuntimeError, match="inside"):
        with slurm:
            pids = slurm.pids()
            assert set(pids) == {"munged", "slurmctld", "slurmd"}
            assert slurm.run("sinfo", "--noheader", "--format=%P %a").stdout.split() == ["test*", "up"]
            raise RuntimeError("failure inside the cluster")
    assert slurm.running() == []
    assert not [pid for pid in pids.values() if Path(f"/proc/{pid}").exists()]


def slurm_run(cluster, snakefile, workdir, *args):
    """Snakemake with the SLURM profile, submitting to `cluster`; returns its output."""
    result = run_snakemake(
        snakefile, workdir, "--profile", str(SLURM_PROFILE),
        # Test-local overrides only: no slurmdbd here, so sacct has no
        # records and squeue (MinJobAge=600) reports job states; and short
        # polling so that five sequential jobs fit in a test.
        "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
        "--verbose", *args, env=cluster.env(), timeout=240)
    return require_ok(result, cluster.log_tail())


def jobs_of_run(cluster, text):
    """{job id: (comment, state, partition)} for the SLURM jobs this Snakemake run submitted."""
    run_id = re.search(r"SLURM run ID: (\S+)", text).group(1)
    out = cluster.run("squeue", "--states=all", "--noheader", f"--name={run_id}", "--format=%i|%k|%T|%P").stdout
    return {i: (k, t, p) for i, k, t, p in (line.split("|") for line in out.split())}


def sbatch_calls(text):
    return [line for line in text.splitlines() if line.startswith("sbatch call:")]


@needs_slurm
def test_tiny_workflow_runs_through_slurm(cluster, tmp_path):
    work = tmp_path / "run"
    work.mkdir()
    configfile = write_config(tiny_config(), work / "config.yaml")
    text = slurm_run(cluster, REPO / "Snakefile", work, TARGET, "--configfile", str(configfile))

    out = work / "results" / "demo"
    index = gpd.read_file(out / "tiles" / "index.gpkg")
    assert len(index) > 0 and index.crs.to_epsg() == 32649
    with rasterio.open(out / "stack" / "zscore.tif") as src:
        assert src.count >= 1 and (src.width, src.height) == (128, 128)

    # one completed SLURM job per rule, in the cluster's partition
    jobs = jobs_of_run(cluster, text)
    by_rule = {comment: (job, state, part) for job, (comment, state, part) in jobs.items()}
    assert set(by_rule) == {f"rule_{rule}_wildcards_demo" for rule in TINY_RULES}, jobs
    assert all(state == "COMPLETED" and part == cluster.partition for _, state, part in by_rule.values())
    jobcomp = (cluster.root / "jobcomp.txt").read_text()
    for rule in TINY_RULES:
        job = by_rule[f"rule_{rule}_wildcards_demo"][0]
        assert re.search(rf"JobId={job} .*JobState=COMPLETED", jobcomp)
        # the plugin's per-job SLURM log (kept by the profile) shows the job ran inside SLURM
        log = work / ".snakemake" / "slurm_logs" / f"rule_{rule}" / "demo" / f"{job}.log"
        text_of_job = log.read_text()
        assert f"'SLURM_JOB_ID': '{job}'" in text_of_job and "srun -n1" in text_of_job
        assert f"Finished jobid: 0 (Rule: {rule})" in text_of_job

    # each sbatch carried the profile's memory and runtime for its rule
    calls = sbatch_calls(text)
    assert len(calls) == len(TINY_RULES)
    for call in calls:
        rule = re.search(r"--comment rule_(\w+?)_wildcards", call).group(1)
        wanted = profile_resources(SLURM_PROFILE, rule)
        assert f"--mem {wanted['mem_mb']}" in call and f"-t {wanted['runtime']}" in call, call
        assert "--gpus" not in call


@needs_slurm
def test_training_rules_get_a_gpu_from_slurm(cluster, standin):
    text = slurm_run(cluster, standin, standin.parent)
    jobs = jobs_of_run(cluster, text)
    assert sorted(comment for comment, _, _ in jobs.values()) == sorted(f"rule_{r}" for r in GPU_RULES)
    for call in sbatch_calls(text):
        assert " --gpus=1" in call, call
    for job in jobs:
        assert "TresPerJob=gres:gpu:1" in cluster.run("scontrol", "show", "job", job).stdout
    for rule in GPU_RULES:
        written = (standin.parent / f"{rule}.txt").read_text().split()
        assert written[0] in {f"job={job}" for job in jobs}
        assert written[1:] == ["gpus=0", "cuda=0"]  # the job step was handed the node's one GPU
