"""Device, threads, precision and seeding, the same for every network."""

import contextlib
import os
import random

import numpy as np
import torch

from ..errors import InputError


def resolve_device(spec="auto"):
    """torch.device from the config's ``device``: auto (CUDA, else CPU), cpu, cuda, cuda:N, mps."""
    spec = "auto" if spec is None else str(spec)
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"device: {spec!r} asked for but CUDA is not available "
                             "(use device: auto or cpu)")
        device = torch.device(spec)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"device: {spec!r} but only {torch.cuda.device_count()} CUDA device(s) exist")
        return device
    if spec == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise InputError("device: 'mps' asked for but it is not available")
        return torch.device("mps")
    if spec == "cpu":
        return torch.device("cpu")
    raise InputError(f"device: {spec!r} is not one of auto, cpu, cuda, cuda:N, mps")


def set_threads(threads):
    """Cap CPU threads (Snakemake's ``threads``); None leaves torch's default."""
    if threads is not None:
        torch.set_num_threads(max(1, min(int(threads), os.cpu_count() or 1)))
    return torch.get_num_threads()


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def amp_dtype(device, enabled=True):
    """Autocast dtype, or None for full precision.

    bf16 where the GPU supports it (Ampere and later): it has float32's exponent
    range, so no loss scaling is needed and small selection-matrix products cannot
    underflow; fp16 with a GradScaler on older GPUs. CPU runs in float32.
    """
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def grad_scaler(device, dtype):
    """A GradScaler, enabled only for fp16 (bf16 does not need one)."""
    return torch.amp.GradScaler(device.type, enabled=(dtype == torch.float16))


def autocast(device, dtype):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def channels_last_for(device, requested=True):
    """Whether to use the channels-last memory layout: on CUDA when requested, never
    on the CPU. On the CPU (torch 2.14, oneDNN) a narrow ResNet-18 in eval mode gave
    NaN outputs for some inputs in channels-last layout (GTK Kolari, a
    cross-validation fold on Al, La, Sr, Th) and finite ones in the default layout;
    a NaN probability would silently become nodata in a map."""
    return bool(requested) and torch.device(device).type == "cuda"


def configure_backend(device):
    """Fast convolution algorithms on CUDA (determinism is promised on CPU only)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
