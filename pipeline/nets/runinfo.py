"""What a training run says about itself: its first lines in the log (device,
windows, noise copies), what the window spans and what ResNet-18's last stage
sees of it, and the ``runtime`` entry of the metrics file."""

import logging

import torch

from ..window_plan import check_window

log = logging.getLogger(__name__)


def runtime(device, threads, dtype):
    """The device, CPU threads, autocast dtype and torch version a run used."""
    return {"device": str(device), "threads": torch.get_num_threads() if device.type == "cpu" else None,
            "amp": str(dtype).replace("torch.", "") if dtype is not None else None,
            "torch": torch.__version__}


def log_window_check(desc, tiles, crop, dilations):
    """What the window spans in sample spacings and what ResNet-18's last stage
    sees of it (a warning at 1 x 1), when the tiles know the sample spacing."""
    spacing = (tiles.meta or {}).get("median_sample_spacing")
    grid = (tiles.meta or {}).get("grid")
    if not spacing or not grid:
        return
    cell = abs(float(grid["transform"][0]))
    lines, warning = check_window(tiles.window, crop, dilations, float(spacing), cell)
    for line in lines:
        log.info("%s: %s", desc, line)
    if warning:
        log.warning("%s: %s", desc, warning)


def log_start(desc, device, info, elements):
    """The device, threads, elements and the counts of ``splits.prepare_batches``."""
    log.info("%s: device %s, %d threads, elements %s", desc, device, torch.get_num_threads(), elements)
    log.info("%s: %d training windows (%d with mines) -> %d samples per epoch (noise copies per window: %s); "
             "%d test windows (%d with mines)", desc, info["train_windows"], info["train_with_mines"],
             info["train_samples_per_epoch"], info["noise_copies_per_window"], info["test_windows"],
             info["test_with_mines"])
