"""The deep baselines of Table 3 through the workflow's training code on a GPU,
at the paper's sizes (8 elements, 256 windows cropped to 224, batch 128, full
width, bf16): one epoch each on random tiles; prints time and peak memory.
All nine networks: torchvision's six and the three written in pipeline/baselines
(SCNet, T2T-ViT-14, SNL; T2T-ViT-14 at 224 crops takes the paper's first soft
split). ``--only scnet,snl`` runs a subset.

    python benchmarks/gpu_cnn_check.py        # needs CUDA (run through gpu_run.sh on a torch-only machine)
"""

import argparse

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

from gpu_check import write_tiles  # noqa: E402
from pipeline.baselines.cnn import NAMES, train_cnn  # noqa: E402


def main():
    if not torch.cuda.is_available():
        raise SystemExit("gpu_cnn_check.py needs CUDA")
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=None, help="comma-separated network names (default: all of NAMES)")
    only = parser.parse_args().only
    names = [n.strip() for n in only.split(",")] if only else NAMES
    work = Path(tempfile.mkdtemp())
    tiles = write_tiles(work / "tiles")
    train = {"epochs": 1, "batch_size": 128, "lr": 0.1, "momentum": 0.01, "weight_decay": 1e-4, "lr_step": 30,
             "lr_gamma": 0.5, "crop": 224, "balance": "noise", "noise_variance": 0.01, "amp": True,
             "channels_last": True}
    for name in names:
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        summary, _ = train_cnn(tiles, method=name, width=1.0, train=train, device="auto",
                               model_path=work / f"{name}.pt", checkpoint_path=work / f"{name}.ckpt",
                               log_path=work / f"{name}.csv", progress=False)
        print(f"{name}: 1 epoch in {time.perf_counter() - t0:.1f} s, runtime {summary.get('runtime')}, "
              f"peak {torch.cuda.max_memory_allocated() / 2 ** 30:.2f} GiB")


if __name__ == "__main__":
    main()
