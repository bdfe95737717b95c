"""Who takes the gpu token, and how many threads a network job gets (pipeline.device_plan)."""

import re

import pytest

from pipeline.device_plan import cuda_visible, gpu_token, network_threads
from workflow_helpers import snakemake, tiny_config, write_config


@pytest.mark.parametrize("device, probe, expected", [
    ("cpu", True, 0), ("cuda", False, 1), ("cuda:1", False, 1), ("mps", False, 1),
    ("auto", True, 1), ("auto", False, 0)])
def test_the_token_follows_the_device(device, probe, expected):
    assert gpu_token(device, probe=lambda: probe) == expected


def test_hidden_cuda_devices_are_no_gpu():
    assert cuda_visible({"CUDA_VISIBLE_DEVICES": ""}) is False
    assert cuda_visible({"CUDA_VISIBLE_DEVICES": "-1"}) is False


@pytest.mark.parametrize("cores, gpu, expected", [(2, 0, 1), (8, 0, 4), (1, 0, 1), (8, 1, 8), (16, 1, 8), (2, 1, 2),
                                                (None, 0, 8), (None, 1, 8)])
def test_network_threads(cores, gpu, expected):
    assert network_threads(cores, gpu) == expected


def _network_jobs(text):
    """(rule, threads, gpu) of each planned train_skt / baseline_cnn job in a dry run's log."""
    jobs = []
    for block in re.split(r"\n(?=\S*rule )", text):
        m = re.match(r"\S*rule (train_skt|baseline_cnn):", block.strip())
        if m:
            threads = re.search(r"threads: (\d+)", block)
            gpu = re.search(r"gpu=(\d+)", block)
            jobs.append((m.group(1), int(threads.group(1)) if threads else 1, int(gpu.group(1)) if gpu else 0))
    return jobs


@pytest.mark.parametrize("device, token", [("cpu", 0), ("cuda", 1)])
def test_the_workflow_plans_network_jobs_by_the_device(tmp_path, device, token):
    config = dict(tiny_config(), device=device)
    result = snakemake(tmp_path, write_config(config, tmp_path / "config.yaml"), "--dry-run", "--cores", "4")
    jobs = _network_jobs(result.stdout + result.stderr)
    assert {rule for rule, _, _ in jobs} == {"train_skt", "baseline_cnn"}
    assert all(gpu == token for _, _, gpu in jobs)
    assert all(threads == (2 if token == 0 else 4) for _, threads, _ in jobs)
