"""How the workflow shares the machine between network jobs, decided when
Snakemake parses the workflow (no torch import: every start pays for it).

The ``gpu`` resource is a token: with ``--resources gpu=1`` Snakemake never
runs two jobs holding it at once, which keeps two trainings off one GPU. On a
machine without a GPU that same token would run the CPU networks one at a
time while the other cores idle, so a job takes the token only when it will
use a GPU:

- ``device: cpu``: no token;
- ``device: cuda``, ``cuda:N`` or ``mps``: the token;
- ``device: auto``: the token when a CUDA device is visible (``/dev/nvidia0``
  or ``nvidia-smi`` present, and ``CUDA_VISIBLE_DEVICES`` not set to empty or
  -1). A machine with the driver but a CPU-only torch then still serialises
  its networks: the safe side.

Threads: a job on the GPU gets up to 8 cores for data loading; on the CPU,
half of ``--cores`` (at least 1), so that two network jobs run side by side
and torch's intra-op threads of one do not fight the other's. Under a
cluster executor, which sets no total of cores, each job gets 8 (its node's).
"""

import os
import shutil

GPU_THREADS = 8


def cuda_visible(env=None):
    """Whether a CUDA device is visible to this process, from the device files and the driver's tool."""
    env = os.environ if env is None else env
    if env.get("CUDA_VISIBLE_DEVICES") is not None and env["CUDA_VISIBLE_DEVICES"].strip() in ("", "-1"):
        return False
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


def gpu_token(device, probe=cuda_visible):
    """1 when network jobs will run on a GPU (they take the ``gpu`` token), else 0."""
    device = str(device).strip().lower()
    if device == "cpu":
        return 0
    if device.startswith("cuda") or device == "mps":
        return 1
    return 1 if probe() else 0


def network_threads(cores, gpu):
    """Threads of one network job given ``--cores`` and the token decision;
    ``cores`` None (a cluster executor, where each job gets its own node): GPU_THREADS."""
    if cores is None:
        return GPU_THREADS
    cores = max(1, int(cores))
    return min(GPU_THREADS, cores) if gpu else max(1, cores // 2)
