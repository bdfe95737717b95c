"""Paper-sized SKT training on a GPU, on random data: throughput and memory.

8 elements, 256-pixel windows cropped to 224, batch 128, ResNet-18 width 64,
5 target networks with dilations 1, 6, 12, 18, 24, mixed precision and
channels_last, through the same Batches / train_step code as the workflow.
Prints images per second, peak GPU memory and the SKT / plain step ratio.

    python benchmarks/gpu_skt.py                 # needs CUDA; ~200 steps, a few minutes
    python benchmarks/gpu_skt.py --smoke         # tiny sizes on the CPU: checks it runs
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_skt_step import SIZES, compare  # noqa: E402

from pipeline.nets.batches import Batches, place, sample_plan  # noqa: E402
from pipeline.nets.device import amp_dtype, configure_backend, grad_scaler, set_threads  # noqa: E402
from pipeline.nets.resnet import resnet18  # noqa: E402
from pipeline.nets.train import train_step  # noqa: E402
from pipeline.skt.model import SKTModel  # noqa: E402
from pipeline.skt.train import skt_task  # noqa: E402

PAPER = dict(channels=8, window=256, crop=224, batch=128, width=64, dilations=[1, 6, 12, 18, 24], windows=512)
SMOKE = dict(channels=3, window=28, crop=24, batch=8, width=4, dilations=[1, 2, 3, 4, 6], windows=32)


def train_throughput(size, device, steps, amp=True):
    """Seconds per step and images per second over ``steps`` SKT steps (after warm-up)."""
    torch.manual_seed(0)
    source = resnet18(size["channels"], 2, size["width"])
    model = SKTModel([f"E{i}" for i in range(size["channels"])], size["dilations"], width=size["width"],
                     source=source).to(device)
    channels_last = True
    model.to(memory_format=torch.channels_last)
    dtype = amp_dtype(device, amp)
    scaler = grad_scaler(device, dtype)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.01,
                                weight_decay=1e-4)
    task = skt_task(model, {"beta": 0.7, "temperature": 1.0, "distillation": True})
    rng = np.random.default_rng(0)
    windows = torch.from_numpy(rng.standard_normal((size["windows"], size["channels"], size["window"],
                                                    size["window"]), dtype=np.float32))
    labels = (rng.random(size["windows"]) < 0.2).astype(np.int64)
    batches = Batches(place(windows, device), labels, sample_plan(labels, "noise"), crop=size["crop"],
                      noise_std=0.1, device=device)
    index_gen = torch.Generator().manual_seed(0)
    noise_gen = torch.Generator(device=device).manual_seed(1)

    def stream():
        while True:
            yield from batches.train_batches(size["batch"], index_gen, noise_gen)

    data = stream()
    warmup = min(10, max(2, steps // 10))
    for _ in range(warmup):
        x, y = next(data)
        train_step(task, x.contiguous(memory_format=torch.channels_last) if channels_last else x, y,
                   optimizer, scaler, device, dtype)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    n_images = 0
    t0 = time.perf_counter()
    last = None
    for _ in range(steps):
        x, y = next(data)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        last = train_step(task, x, y, optimizer, scaler, device, dtype)
        n_images += len(y)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - t0
    loss = float(last["loss_total"])
    if not math.isfinite(loss):
        raise FloatingPointError(f"loss is {loss} after {steps} steps")
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {"steps": steps, "seconds": elapsed, "images_per_s": n_images / elapsed, "peak_bytes": peak,
            "loss": loss, "amp": str(dtype)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="timed training steps")
    parser.add_argument("--ratio-steps", type=int, default=10, help="timed steps per block for the ratio")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (no GPU needed)")
    parser.add_argument("--no-amp", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        device, size, bench_size = torch.device("cpu"), SMOKE, SIZES["tiny"]
        set_threads(1)
        steps = min(args.steps, 5)
    else:
        if not torch.cuda.is_available():
            raise SystemExit("gpu_skt.py: CUDA is not available; this benchmark needs a GPU "
                             "(use --smoke to check it on the CPU)")
        device, size, bench_size = torch.device("cuda"), PAPER, SIZES["paper"]
        steps = args.steps
    configure_backend(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}; torch {torch.__version__}; size {size}")
    result = train_throughput(size, device, steps, amp=not args.no_amp)
    print(f"SKT training: {result['steps']} steps in {result['seconds']:.1f} s, "
          f"{result['images_per_s']:.1f} images/s (amp {result['amp']}), final loss {result['loss']:.3f}")
    if result["peak_bytes"] is not None:
        print(f"peak GPU memory (torch.cuda.max_memory_allocated): {result['peak_bytes'] / 2 ** 30:.2f} GiB")
    ratio = compare(bench_size, device, steps=2 if args.smoke else args.ratio_steps, warmup=1 if args.smoke else 3,
                    amp=not args.no_amp, repeats=1 if args.smoke else 3)
    print(f"step time: SKT {ratio['skt_s'] * 1e3:.1f} ms, 5 plain ResNet-18 {ratio['plain_s'] * 1e3:.1f} ms, "
          f"ratio SKT / plain = {ratio['ratio']:.3f} (target <= 1.3)")


if __name__ == "__main__":
    main()
