"""Training: the source network N_S and the SKT model, with per-epoch atomic
checkpoints, resume, a CSV log and a metrics JSON.

Both share one loop (``fit``): SGD with step decay, random crops, Gaussian-noise
copies of the minority class, mixed precision on CUDA, evaluation on the spatial
test split after every epoch. On CPU the same configuration and seed give the same
weights, also across an interruption and resume.
"""

import hashlib
import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from ..atomic import atomic_path, write_json
from ..errors import InputError
from ..evaluation.metrics import noise_copy_counts
from ..progress import on_terminal
from ..window_inputs import VALIDITY
from ..window_plan import check_window, resolve_crop, resolve_dilations
from .data import Batches, TileSet, align_elements, load_tiles, place, sample_plan
from .device import (amp_dtype, autocast, channels_last_for, configure_backend, grad_scaler, resolve_device,
                     seed_everything, set_threads)
from .files import load_source, load_torch, save_skt, save_source, save_torch
from .losses import skt_loss
from .metrics import SUMMARY, classification_metrics, constant_baseline
from .model import build_skt, vote
from .pretrain import pretrain_masked_bands
from .resnet import resnet18

CHECKPOINT_KIND = "skt-checkpoint"
log = logging.getLogger(__name__)


class Task:
    """What differs between training the source and the SKT model."""

    def __init__(self, model, names, loss):
        self.model = model
        self.names = list(names)
        self.loss = loss    # (list of logits, y) -> (total, {term: tensor})


def _as_list(out):
    return out if isinstance(out, (list, tuple)) else [out]


def source_task(network):
    def loss(logits, y):
        ce = nn.functional.cross_entropy(logits[0].float(), y)
        return ce, {"ce_source": ce}
    return Task(network, ["source"], loss)


def skt_task(model, skt_cfg):
    order = model.distillation_order()
    beta = float(skt_cfg.get("beta", 0.7))
    temperature = float(skt_cfg.get("temperature", 1.0))
    distill = bool(skt_cfg.get("distillation", True))
    l1 = float(skt_cfg.get("selection_l1", 0.0))
    selections = model.selection_matrices() if l1 > 0 else []

    def loss(logits, y):
        total, ce, kd = skt_loss(logits, y, order, beta=beta, temperature=temperature, distillation=distill)
        terms = {f"ce_{n}": v for n, v in zip(model.names, ce)}
        terms.update({f"kd_{n}": v for n, v in zip(model.names, kd)})
        if selections:
            # the sparsity the paper asks of the weight selection (section 3.3), as an L1 term
            penalty = l1 * selection_l1(selections)
            terms["l1_selection"] = penalty
            total = total + penalty
        return total, terms
    return Task(model, model.names, loss)


def selection_l1(selections):
    """Sum of |P| over every selection matrix."""
    return torch.stack([p.abs().sum() for p in selections]).sum()


def train_step(task, x, y, optimizer, scaler, device, dtype):
    """One SGD step; returns detached loss terms (no host synchronisation)."""
    optimizer.zero_grad(set_to_none=True)
    with autocast(device, dtype):
        logits = _as_list(task.model(x))
    total, terms = task.loss(logits, y)
    scaler.scale(total).backward()
    scaler.step(optimizer)
    scaler.update()
    return {"loss_total": total.detach(), **{k: v.detach() for k, v in terms.items()}}


@torch.inference_mode()
def batch_probabilities(model, batches, device, dtype=None, channels_last=False):
    """"With mines" probability of every output for every batch: (m, N) float64 and labels."""
    was_training = model.training
    model.eval()
    probs, labels = [], []
    for x, y in batches:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, dtype):
            logits = _as_list(model(x))
        probs.append(torch.stack([torch.softmax(z.float(), 1)[:, 1] for z in logits]).cpu())
        labels.append(y.cpu())
    model.train(was_training)
    if not probs:
        return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
    return torch.cat(probs, 1).double().numpy(), torch.cat(labels).numpy()


def evaluate(model, names, batches, batch_size, device, dtype=None, channels_last=False, noise_gen=None):
    """Metrics per output and for the vote: {name: metrics, "vote": metrics}."""
    probs, y = batch_probabilities(model, batches.eval_batches(batch_size, noise_gen), device, dtype,
                                   channels_last)
    if len(y) == 0:
        return {name: classification_metrics([], []) for name in list(names) + ["vote"]}
    out = {name: classification_metrics(y, p) for name, p in zip(names, probs)}
    classes, mean = vote(probs)
    out["vote"] = classification_metrics(y, mean, y_pred=classes)
    return out


def file_stamp(path):
    if path is None:
        return None
    st = Path(path).stat()
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


def fingerprint(*parts):
    """Hash of everything that must match for a checkpoint to be resumed."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


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
    history, start = [], 0
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        state = load_torch(checkpoint_path)
        if not (isinstance(state, dict) and state.get("kind") == CHECKPOINT_KIND and state.get("stamp") == stamp):
            log.info("%s: %s was written for another configuration or data; starting afresh", desc,
                     checkpoint_path)
        else:
            log.info("%s: resuming after epoch %d from %s", desc, state["epoch"], checkpoint_path)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            index_gen.set_state(state["rng"]["index"])
            noise_gen.set_state(state["rng"]["noise"])
            torch.set_rng_state(state["rng"]["torch"])
            history, start = list(state["history"]), int(state["epoch"])
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
            save_torch(checkpoint_path, {
                "kind": CHECKPOINT_KIND, "stamp": stamp, "epoch": epoch + 1,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                "rng": {"index": index_gen.get_state(), "noise": noise_gen.get_state(),
                        "torch": torch.get_rng_state()},
                "history": history})
        _write_log(log_path, history)
    _write_log(log_path, history)
    return history, True


def _fmt(value):
    return "n/a" if value is None else f"{value:.3f}"


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


def _final_metrics(model, names, test, paper, batch_size, device, dtype, channels_last, seed):
    primary = evaluate(model, names, test, batch_size, device, dtype, channels_last)
    paper_gen = torch.Generator(device=device).manual_seed(seed + 2)
    protocol = evaluate(model, names, paper, batch_size, device, dtype, channels_last, noise_gen=paper_gen)
    y = test.y.cpu().numpy()
    return {
        "primary": {"description": "spatial test split, no noise copies, whole windows; this is the "
                                   "honest estimate", "constant_baseline_accuracy": constant_baseline(y),
                    **primary},
        "paper_protocol": {"description": "test split balanced with Gaussian-noise copies as in the paper "
                                          "(section 2.2); copies are not independent samples, so these "
                                          "numbers are optimistic", "n_samples": len(paper), **protocol},
    }


def _runtime(device, threads, dtype):
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


def _log_start(desc, device, info, elements):
    log.info("%s: device %s, %d threads, elements %s", desc, device, torch.get_num_threads(), elements)
    log.info("%s: %d training windows (%d with mines) -> %d samples per epoch (noise copies per window: %s); "
             "%d test windows (%d with mines)", desc, info["train_windows"], info["train_with_mines"],
             info["train_samples_per_epoch"], info["noise_copies_per_window"], info["test_windows"],
             info["test_with_mines"])


def _tiles(tiles):
    return tiles if isinstance(tiles, TileSet) else load_tiles(tiles)


def _warn_empty_pool_channels(tiles):
    """A pooled source (pipeline.source_pool) learns nothing from an element that
    no pooled survey holds: its channel is 0 in every window. Say which."""
    surveys = (tiles.meta or {}).get("source_datasets")
    if not surveys:
        return
    empty = [e for e in tiles.elements if e != VALIDITY
             and all(e in info["missing_elements"] for info in surveys.values())]
    if empty:
        log.warning("source: no source dataset (%s) holds %s: %s 0 in every source window, so the source "
                    "learns nothing about %s", ", ".join(surveys), ", ".join(empty),
                    "this channel is" if len(empty) == 1 else "these channels are",
                    "it" if len(empty) == 1 else "them")


def train_source(tiles, *, source, model, train, seed=42, device="auto", threads=None, model_path,
                 checkpoint_path=None, log_path=None, metrics_path=None, progress=None, stop_after=None,
                 elements=None):
    """Train the source network N_S (a plain ResNet-18) on the training tiles of
    ``tiles`` (a TileSet or a tiles directory: this dataset's for ``source.task:
    self``, another's for ``dataset``, the pool of ``pipeline.source_pool`` for
    ``datasets``) for ``source["epochs"]`` epochs. ``elements``: the bands the
    source sees, by name (None: every band of the tiles); the targets must match.

    Writes ``model_path`` (weights + element names), the checkpoint, log and metrics.
    Returns a summary dict (``finished`` False when stopped by ``stop_after``).
    """
    tiles = _tiles(tiles)
    if elements is not None:
        tiles = tiles.view(elements)
        _warn_empty_pool_channels(tiles)
    device = resolve_device(device)
    set_threads(threads)
    configure_backend(device)
    seed = int(seed)
    seed_everything(seed)
    epochs = int(source.get("epochs", train.get("epochs", 12)))
    network = resnet18(len(tiles.elements), 2, int(model.get("width", 16)))
    train_b, test_b, paper_b, info = prepare_batches(tiles, tiles.elements, train, device)
    stamp = fingerprint("source", dict(source), dict(model), dict(train), seed, tiles.elements, info,
                        file_stamp(Path(tiles.path) / "windows.npy") if tiles.path else None, device.type)
    _log_start("source", device, info, tiles.elements)
    log_window_check("source", tiles, info["crop"], [0])
    if source.get("task") == "pretrain":
        # self-supervised first (every window, no labels), then the labelled source task
        pretrain = pretrain_masked_bands(network, tiles, epochs=int(source.get("pretrain_epochs", 10)),
                                         batch_size=int(train.get("batch_size", 64)), lr=float(train.get("lr", 0.1)),
                                         crop=resolve_crop(train.get("crop", 56), tiles.window), seed=seed,
                                         device=device)
        info = dict(info, pretrain_masked_band_loss=pretrain)
    task = source_task(network)
    history, finished = fit(task, train_b, test_b, train, epochs=epochs, seed=seed, device=device,
                            checkpoint_path=checkpoint_path, log_path=log_path, stamp=stamp,
                            progress=progress, stop_after=stop_after, desc="source")
    summary = {"finished": finished, "epochs_done": len(history), "elements": tiles.elements, **info}
    if not finished:
        return summary
    dtype = amp_dtype(device, bool(train.get("amp", True)))
    channels_last = channels_last_for(device, train.get("channels_last", True))
    metrics = _final_metrics(network, task.names, test_b, paper_b, int(train.get("batch_size", 64)), device,
                             dtype, channels_last, seed)
    network = network.to("cpu", memory_format=torch.contiguous_format)
    save_source(model_path, network, tiles.elements, crop=info["crop"], window=info["window"],
                epochs=epochs, seed=seed, tiles=str(tiles.path))
    summary.update(**metrics, runtime=_runtime(device, threads, dtype))
    if metrics_path is not None:
        write_json(metrics_path, summary)
    return summary


def train_skt(tiles, *, source_path=None, skt, model, train, seed=42, device="auto", threads=None, zauc=None,
              model_path, checkpoint_path=None, log_path=None, metrics_path=None, progress=None,
              stop_after=None):
    """Train the SKT model (paper section 3) on ``tiles`` (TileSet or directory).

    ``source_path``: the source network file from ``train_source`` (or any file it
    wrote, for ``source.task: checkpoint``); needed when ``skt.transfer`` is on.
    The model's elements are the source's, found by name in the tiles (an
    InputError names any that are missing); tile elements the source does not know
    are left out and listed in the metrics as ``elements_unused``.
    ``zauc``: {element: Z_AUC} from screening, for ``skt.mask_init: zauc``.
    Writes ``model_path``, the per-epoch checkpoint, the log CSV and the metrics JSON.
    """
    tiles = _tiles(tiles)
    device = resolve_device(device)
    set_threads(threads)
    configure_backend(device)
    seed = int(seed)
    seed_everything(seed)
    transfer = bool(skt.get("transfer", True))
    source_net, source_info = None, None
    elements = list(tiles.elements)
    if transfer:
        if source_path is None:
            raise InputError("skt.transfer is on but no source network file was given")
        source_net, source_elements, source_info = load_source(source_path)
        align_elements(source_elements, tiles.elements, where=tiles.path)
        elements = source_elements
        if int(model.get("width", source_net.width)) != source_net.width:
            source_info = dict(source_info, note=f"model.width {model.get('width')} ignored: the targets take "
                                                 f"the source network's width {source_net.width}")
    width = source_net.width if source_net is not None else int(model.get("width", 16))
    skt = dict(skt, dilations=resolve_dilations(skt.get("dilations", [1, 2, 3, 4, 6]),
                                                resolve_crop(train.get("crop", 56), tiles.window)))
    skt_model = build_skt(elements, skt, dict(model, width=width), source=source_net, zauc=zauc)
    views = len(skt_model.dilations) if skt.get("independent_crops", False) else 1
    train_b, test_b, paper_b, info = prepare_batches(tiles, elements, train, device, views=views)
    if info["crop"] < skt_model.min_input_size():
        raise InputError(f"train.crop {info['crop']} is too small for skt.dilations up to "
                         f"{max(skt_model.dilations)} (needs at least {skt_model.min_input_size()})")
    stamp = fingerprint("skt", dict(skt), dict(model), dict(train), seed, elements, info, zauc,
                        file_stamp(Path(tiles.path) / "windows.npy") if tiles.path else None,
                        file_stamp(source_path) if transfer else None, device.type)
    _log_start("skt", device, info, elements)
    log_window_check("skt", tiles, info["crop"], skt_model.dilations)
    if len(elements) < len(tiles.elements):
        log.info("skt: tile elements %s are not used: the source network does not know them",
                 [e for e in tiles.elements if e not in elements])
    task = skt_task(skt_model, skt)
    history, finished = fit(task, train_b, test_b, train, epochs=int(train.get("epochs", 12)), seed=seed,
                            device=device, checkpoint_path=checkpoint_path, log_path=log_path, stamp=stamp,
                            progress=progress, stop_after=stop_after, desc="skt")
    unused = [e for e in tiles.elements if e not in elements]
    summary = {"finished": finished, "epochs_done": len(history), "elements": elements,
               "elements_unused": unused, "targets": skt_model.names, "dilations": skt_model.dilations,
               "width": skt_model.width, "skt": dict(skt), **info}
    if not finished:
        return summary
    dtype = amp_dtype(device, bool(train.get("amp", True)))
    channels_last = channels_last_for(device, train.get("channels_last", True))
    metrics = _final_metrics(skt_model, task.names, test_b, paper_b, int(train.get("batch_size", 64)),
                             device, dtype, channels_last, seed)
    skt_model = skt_model.to("cpu", memory_format=torch.contiguous_format)
    save_skt(model_path, skt_model, crop=info["crop"], window=info["window"], label_core=info["label_core"],
             seed=seed,
             source={k: v for k, v in (source_info or {}).items() if k in ("elements", "width", "epochs", "tiles",
                                                                          "note")},
             mask=skt_model.mask.weight.detach().tolist() if skt_model.mask is not None else None)
    summary.update(**metrics, runtime=_runtime(device, threads, dtype),
                   soft_mask_values=dict(zip(elements, skt_model.mask.weight.detach().tolist()))
                   if skt_model.mask is not None else None,
                   source=source_info and {k: v for k, v in source_info.items()
                                           if k in ("elements", "width", "epochs", "tiles", "note")})
    if metrics_path is not None:
        write_json(metrics_path, summary)
    return summary
