"""Cost of one SKT training step against the plain networks it contains.

One SKT step (soft mask, 5 dilated inputs, 5 target ResNet-18s whose kernels are
computed from the frozen source, cross entropy + self-distillation, SGD) is timed
against one step of 5 plain ResNet-18s on the same inputs (sum of cross entropies,
SGD), in the same process, alternating, and the ratio of the median times printed.
Target: SKT costs no more than 1.3x the plain networks.

    python benchmarks/bench_skt_step.py                    # CPU, small (demo-sized)
    python benchmarks/bench_skt_step.py --size paper --device cuda
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.nets.device import amp_dtype, autocast, grad_scaler, resolve_device, set_threads  # noqa: E402
from pipeline.nets.resnet import resnet18  # noqa: E402
from pipeline.nets.train import train_step  # noqa: E402
from pipeline.skt.model import SKTModel  # noqa: E402
from pipeline.skt.train import skt_task  # noqa: E402

SIZES = {
    # channels, crop, batch, width, dilations
    "small": dict(channels=8, crop=56, batch=64, width=16, dilations=[1, 2, 3, 4, 6]),
    "paper": dict(channels=8, crop=224, batch=128, width=64, dilations=[1, 6, 12, 18, 24]),
    "tiny": dict(channels=3, crop=24, batch=8, width=4, dilations=[1, 2, 3, 4, 6]),
}
SKT_CFG = {"beta": 0.7, "temperature": 1.0, "distillation": True}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build(size, device, channels_last):
    """(SKT model, optimiser) and (5 plain networks, optimiser) on ``device``."""
    torch.manual_seed(0)
    source = resnet18(size["channels"], 2, size["width"])
    skt = SKTModel([f"E{i}" for i in range(size["channels"])], size["dilations"], width=size["width"],
                   source=source).to(device)
    plain = torch.nn.ModuleList(resnet18(size["channels"], 2, size["width"])
                                for _ in size["dilations"]).to(device)
    if channels_last:
        skt.to(memory_format=torch.channels_last)
        plain.to(memory_format=torch.channels_last)
    opt_skt = torch.optim.SGD([p for p in skt.parameters() if p.requires_grad], lr=0.01, momentum=0.01)
    opt_plain = torch.optim.SGD(plain.parameters(), lr=0.01, momentum=0.01)
    return (skt, opt_skt), (plain, opt_plain)


def plain_step(nets, x, y, optimizer, scaler, device, dtype):
    optimizer.zero_grad(set_to_none=True)
    with autocast(device, dtype):
        logits = [net(x) for net in nets]
    loss = sum(torch.nn.functional.cross_entropy(z.float(), y) for z in logits)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()


def compare(size, device, *, steps=10, warmup=3, amp=True, channels_last=True, repeats=3):
    """Median seconds per step of SKT and of the plain networks, and their ratio
    (both in the same memory format: channels_last is the faster one on CPU and GPU)."""
    dtype = amp_dtype(device, amp)
    (skt, opt_skt), (plain, opt_plain) = build(size, device, channels_last)
    task = skt_task(skt, SKT_CFG)
    scaler_skt, scaler_plain = grad_scaler(device, dtype), grad_scaler(device, dtype)
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(size["batch"], size["channels"], size["crop"], size["crop"], device=device, generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 2, (size["batch"],), device=device, generator=g)

    def run_skt():
        return train_step(task, x, y, opt_skt, scaler_skt, device, dtype)["loss_total"]

    def run_plain():
        return plain_step(plain, x, y, opt_plain, scaler_plain, device, dtype)

    for _ in range(warmup):
        run_skt()
        run_plain()
    _sync(device)
    times = {"skt": [], "plain": []}
    for _ in range(repeats):          # alternate blocks so that drifting load hits both alike
        for name, fn in (("skt", run_skt), ("plain", run_plain)):
            for _ in range(steps):
                _sync(device)
                t0 = time.perf_counter()
                fn()
                _sync(device)
                times[name].append(time.perf_counter() - t0)
    skt_s, plain_s = statistics.median(times["skt"]), statistics.median(times["plain"])
    return {"skt_s": skt_s, "plain_s": plain_s, "ratio": skt_s / plain_s,
            "images_per_s_skt": size["batch"] / skt_s, "images_per_s_plain": size["batch"] / plain_s}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per block")
    parser.add_argument("--repeats", type=int, default=3, help="alternating blocks per variant")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--batch", type=int, default=None, help="override the size's batch")
    parser.add_argument("--no-amp", action="store_true")
    parser.add_argument("--nchw", action="store_true", help="contiguous (NCHW) instead of channels_last")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    threads = set_threads(args.threads)
    size = dict(SIZES[args.size])
    if args.batch:
        size["batch"] = args.batch
    result = compare(size, device, steps=args.steps, warmup=args.warmup, amp=not args.no_amp,
                     repeats=args.repeats, channels_last=not args.nchw)
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{threads} threads'})"
          f", size {args.size}: {size}, amp {amp_dtype(device, not args.no_amp)}, "
          f"{'NCHW' if args.nchw else 'channels_last'}")
    print(f"SKT step   {result['skt_s'] * 1e3:9.1f} ms  ({result['images_per_s_skt']:.0f} images/s)")
    print(f"5 plain    {result['plain_s'] * 1e3:9.1f} ms  ({result['images_per_s_plain']:.0f} images/s)")
    print(f"ratio SKT / plain = {result['ratio']:.3f}  (target <= 1.3)")
    return result


if __name__ == "__main__":
    main()
