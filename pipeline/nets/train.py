"""The training loop every network of the workflow runs (SKT's source and SKT
model, the CNN baselines): SGD with a step or cosine schedule, random crops,
Gaussian-noise copies of the minority class, mixed precision on CUDA, evaluation
on the spatial test split after every epoch, a per-epoch checkpoint and a CSV log.
On CPU the same configuration and seed give the same weights, also across an
interruption and resume.

What differs between networks is a ``Task``: the model, the names of its outputs
and its loss.
"""

import logging
import math

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..atomic import atomic_path
from ..errors import InputError
from ..progress import on_terminal
from .checkpoint import resume, save_checkpoint
from .device import amp_dtype, autocast, channels_last_for, grad_scaler
from .metrics import SUMMARY
from .scoring import as_list, evaluate

log = logging.getLogger(__name__)


class Task:
    """What differs between training one network and another."""

    def __init__(self, model, names, loss):
        self.model = model
        self.names = list(names)
        self.loss = loss    # (list of logits, y) -> (total, {term: tensor})


def train_step(task, x, y, optimizer, scaler, device, dtype):
    """One SGD step; returns detached loss terms (no host synchronisation)."""
    optimizer.zero_grad(set_to_none=True)
    with autocast(device, dtype):
        logits = as_list(task.model(x))
    total, terms = task.loss(logits, y)
    scaler.scale(total).backward()
    scaler.step(optimizer)
    scaler.update()
    return {"loss_total": total.detach(), **{k: v.detach() for k, v in terms.items()}}


def _write_log(path, history):
    if path is None:
        return
    with atomic_path(path) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False, float_format="%.6g")


def _log_row(epoch, lr, sums, count, metrics):
    row = {"epoch": epoch, "lr": lr}
    row.update({k: float(v) / max(count, 1) for k, v in sums.items()})
    for name, m in metrics.items():
        for key in SUMMARY:
            row[f"test_{name}_{key}"] = m[key]
    return row


SCHEDULES = ("step", "cosine")


def lr_scheduler(optimizer, train_cfg, epochs):
    """step: the paper's halving every ``lr_step`` epochs (which never acts in a run
    shorter than ``lr_step``); cosine: decay to 0 over the epochs actually run."""
    kind = train_cfg.get("lr_schedule", "step")
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(int(epochs), 1))
    if kind != "step":
        raise InputError(f"train.lr_schedule must be one of {SCHEDULES}, got {kind!r}")
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(train_cfg.get("lr_step", 30)),
                                           gamma=float(train_cfg.get("lr_gamma", 0.5)))


def fit(task, train_batches, test_batches, train_cfg, *, epochs, seed, device, checkpoint_path=None,
        log_path=None, stamp=None, progress=None, stop_after=None, desc="train"):
    """Train ``task.model`` for ``epochs`` epochs, resuming from ``checkpoint_path``
    when it holds a checkpoint with the same ``stamp``.

    Returns (history rows, finished?). ``stop_after`` ends the run after that many
    epochs (as an interruption would), leaving the checkpoint for a resume.
    """
    model = task.model.to(device)
    channels_last = channels_last_for(device, train_cfg.get("channels_last", True))
    if channels_last:
        model.to(memory_format=torch.channels_last)
    dtype = amp_dtype(device, bool(train_cfg.get("amp", True)))
    scaler = grad_scaler(device, dtype)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=float(train_cfg.get("lr", 0.1)),
                                momentum=float(train_cfg.get("momentum", 0.01)),
                                weight_decay=float(train_cfg.get("weight_decay", 1e-4)))
    scheduler = lr_scheduler(optimizer, train_cfg, epochs)
    batch_size = int(train_cfg.get("batch_size", 64))
    index_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}
    history, start = resume(checkpoint_path, stamp, parts, index_gen, noise_gen, desc)
    for epoch in range(start, epochs):
        if stop_after is not None and epoch >= stop_after:
            return history, False
        model.train()
        lr = optimizer.param_groups[0]["lr"]
        sums, count = {}, 0
        bar = tqdm(train_batches.train_batches(batch_size, index_gen, noise_gen),
                   total=train_batches.n_batches(batch_size), desc=f"{desc} {epoch + 1}/{epochs}",
                   disable=not (on_terminal() if progress is None else progress), leave=False, unit="batch")
        for x, y in bar:
            if channels_last:
                x = ([v.contiguous(memory_format=torch.channels_last) for v in x] if isinstance(x, list)
                     else x.contiguous(memory_format=torch.channels_last))
            terms = train_step(task, x, y, optimizer, scaler, device, dtype)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v * len(y)
            count += len(y)
        scheduler.step()
        sums = {k: float(v) for k, v in sums.items()}     # one synchronisation per epoch
        if not all(math.isfinite(v) for v in sums.values()):
            raise FloatingPointError(f"{desc}: loss is not finite in epoch {epoch + 1} ({sums}); "
                                     "lower train.lr")
        metrics = evaluate(model, task.names, test_batches, batch_size, device, dtype, channels_last)
        history.append(_log_row(epoch + 1, lr, sums, count, metrics))
        vote_m = metrics["vote"]
        log.info("%s epoch %d/%d: lr %.4g, loss %.4f, test accuracy %s, recall %s, ROC AUC %s", desc, epoch + 1,
                 epochs, lr, sums.get("loss_total", 0) / max(count, 1), _fmt(vote_m["accuracy"]),
                 _fmt(vote_m["recall"]), _fmt(vote_m["roc_auc"]))
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, stamp, epoch + 1, parts, index_gen, noise_gen, history)
        _write_log(log_path, history)
    _write_log(log_path, history)
    return history, True


def _fmt(value):
    return "n/a" if value is None else f"{value:.3f}"
