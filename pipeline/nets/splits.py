"""The batches a training run reads, from a TileSet and the ``train`` config: the
training split (balanced, randomly cropped) and the spatial test split twice,
as it is and balanced with noise copies as in the paper, plus the counts that
go into the metrics file. Every network gets the same windows, channels and
copies from here, so their scores compare."""

import math

import torch

from ..errors import InputError
from ..evaluation.metrics import noise_copy_counts
from ..window_plan import resolve_crop
from .batches import Batches, place, sample_plan


def prepare_batches(tiles, elements, train_cfg, device, views=1):
    """Train and test Batches (test without and with noise copies) plus counts.
    ``views``: independent random crops of each training window (one per SKT
    target network with ``skt.independent_crops``)."""
    limit = train_cfg.get("max_in_memory_mb", 1024)
    max_bytes = None if limit is None else float(limit) * 2**20
    train_x, train_y, _ = tiles.split_windows("train", elements, max_bytes)
    test_x, test_y, _ = tiles.split_windows("test", elements, max_bytes)
    if len(train_y) == 0:
        raise InputError("the tiles have no training windows", path=tiles.path)
    if (train_y == 1).sum() == 0 or (train_y == 0).sum() == 0:
        raise InputError(f"the training split needs windows of both classes; it has "
                         f"{int((train_y == 1).sum())} with mines and {int((train_y == 0).sum())} without "
                         "(check the sites, tiles.window or the train/test split)", path=tiles.path)
    crop = resolve_crop(train_cfg.get("crop", 56), tiles.window)
    if crop > tiles.window:
        raise InputError(f"train.crop ({crop}) is larger than the tiles' window ({tiles.window})")
    balance = train_cfg.get("balance", "noise")
    majority = int(train_cfg.get("noise_majority_copies", 0))
    std = math.sqrt(float(train_cfg.get("noise_variance", 0.01)))
    plan = sample_plan(train_y, balance, majority)
    x_train = place(train_x, device)
    x_test = place(test_x, device)
    augment = train_cfg.get("augment", "none")
    train = Batches(x_train, train_y, plan, crop=crop, noise_std=std, device=device, augment=augment, views=views)
    # evaluation sees whole windows: the label says whether a site lies anywhere in the window
    test = Batches(x_test, test_y, sample_plan(test_y, "none"), crop=tiles.window, noise_std=0.0, device=device)
    paper = Batches(x_test, test_y, sample_plan(test_y, "noise", majority), crop=tiles.window, noise_std=std,
                    device=device)
    counts = noise_copy_counts((train_y == 1).sum(), (train_y == 0).sum(), majority)
    info = {
        "train_windows": int(len(train_y)), "train_with_mines": int((train_y == 1).sum()),
        "train_samples_per_epoch": int(len(train)), "balance": balance,
        "noise_copies_per_window": {"with_mines": counts[1], "without_mines": counts[0]}
        if balance == "noise" else None,
        "noise_variance": float(train_cfg.get("noise_variance", 0.01)),
        "test_windows": int(len(test_y)), "test_with_mines": int((test_y == 1).sum()),
        "crop": crop, "window": tiles.window, "label_core": (tiles.meta or {}).get("label_core"),
        "augment": augment,
        "windows_read": "in memory" if torch.is_tensor(x_train) else "lazily from windows.npy",
    }
    return train, test, paper, info
