"""The workflow's real training functions on a GPU at the paper's sizes.

Writes a small tiles folder of random windows (8 elements, 256-pixel windows,
paper split sizes scaled down), then runs train_source and train_skt for two
epochs each with the paper-sized model (ResNet-18 width 64, 224 crops, batch
128, dilations 1/6/12/18/24, AMP, channels_last), stops one run after its first
epoch and resumes it, and prints the device, precision, time per epoch and
whether the resumed run finished.

    python benchmarks/gpu_check.py            # needs CUDA
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from pipeline.skt.train import train_skt, train_source  # noqa: E402

ELEMENTS = ["Au", "Sn", "Cu", "Ag", "Ba", "Sb", "Hg", "Mo"]


def write_tiles(out_dir, n_train=128, n_test=32, window=256, seed=0):
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    labels = (rng.random(n) < 0.2).astype(np.int64)
    windows = rng.standard_normal((n, len(ELEMENTS), window, window), dtype=np.float32)
    windows[labels == 1, :3, 96:160, 96:160] += 1.5  # a learnable halo
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "windows.npy", windows)
    rows = [{"tile_id": i, "row": (i // 16) * 128, "col": (i % 16) * 128,
             "split": "train" if i < n_train else "test", "label": int(labels[i]), "n_sites": int(labels[i]),
             "valid_fraction": 1.0} for i in range(n)]
    import pandas as pd

    pd.DataFrame(rows).to_csv(out_dir / "index.csv", index=False)
    (out_dir / "tiles.json").write_text(json.dumps({"elements": ELEMENTS, "window": window, "stride": 128,
                                                     "split_row": 2560}))
    return out_dir


def main():
    if not torch.cuda.is_available():
        raise SystemExit("gpu_check.py needs CUDA")
    work = Path(tempfile.mkdtemp())
    tiles = write_tiles(work / "tiles")
    model = {"width": 64}
    train = {"epochs": 2, "batch_size": 128, "lr": 0.1, "momentum": 0.01, "weight_decay": 1e-4, "lr_step": 30,
             "lr_gamma": 0.5, "crop": 224, "balance": "noise", "noise_variance": 0.01, "amp": True,
             "channels_last": True}
    skt = {"dilations": [1, 6, 12, 18, 24], "soft_mask": True, "mask_init": "ones", "dilation": True,
           "transfer": True, "transfer_mode": "product", "distillation": True, "beta": 0.7, "temperature": 1.0}
    t0 = time.perf_counter()
    source = train_source(tiles, source={"task": "self", "epochs": 2}, model=model, train=train, device="auto",
                          model_path=work / "source.pt", checkpoint_path=work / "source.ckpt",
                          log_path=work / "source_log.csv", metrics_path=work / "source.json", progress=False)
    t1 = time.perf_counter()
    print(f"train_source: {source['epochs_done']} epochs in {t1 - t0:.1f} s; runtime {source.get('runtime')}")
    partial = train_skt(tiles, source_path=work / "source.pt", skt=skt, model=model, train=train,
                        device="auto", model_path=work / "skt.pt", checkpoint_path=work / "skt.ckpt",
                        log_path=work / "skt_log.csv", metrics_path=work / "skt.json", progress=False,
                        stop_after=1)
    t2 = time.perf_counter()
    print(f"train_skt stopped after epoch 1: finished={partial['finished']} ({t2 - t1:.1f} s)")
    summary = train_skt(tiles, source_path=work / "source.pt", skt=skt, model=model, train=train,
                        device="auto", model_path=work / "skt.pt", checkpoint_path=work / "skt.ckpt",
                        log_path=work / "skt_log.csv", metrics_path=work / "skt.json", progress=False)
    t3 = time.perf_counter()
    print(f"train_skt resumed: finished={summary['finished']}, epochs_done={summary['epochs_done']} "
          f"({t3 - t2:.1f} s); runtime {summary.get('runtime')}")
    print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2 ** 30:.2f} GiB")
    print("skt log:\n" + (work / "skt_log.csv").read_text()[:2000])


if __name__ == "__main__":
    main()
