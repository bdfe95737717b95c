"""SKT's training entry points: the source network N_S (``train_source``) and the
SKT model (``train_skt``), each run through the shared loop of
``pipeline.nets.train`` with its own task: cross entropy for the source; for the
SKT model the paper's objective (cross entropy per target network, top-down
self-distillation, an optional L1 term on the selection matrices). Each writes
its model file, the per-epoch checkpoint, a CSV log and a metrics JSON.
"""

import logging
from pathlib import Path

import torch
from torch import nn

from ..atomic import write_json
from ..errors import InputError
from ..nets.checkpoint import file_stamp, fingerprint
from ..nets.device import amp_dtype, channels_last_for, configure_backend, resolve_device, seed_everything, set_threads
from ..nets.resnet import resnet18
from ..nets.runinfo import log_start, log_window_check, runtime
from ..nets.scoring import final_metrics
from ..nets.splits import prepare_batches
from ..nets.tileset import align_elements, as_tileset
from ..nets.train import Task, fit
from ..window_inputs import VALIDITY
from ..window_plan import resolve_crop, resolve_dilations
from .files import load_source, save_skt, save_source
from .losses import skt_loss
from .model import build_skt
from .pretrain import pretrain_masked_bands

log = logging.getLogger(__name__)


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
    tiles = as_tileset(tiles)
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
    log_start("source", device, info, tiles.elements)
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
    metrics = final_metrics(network, task.names, test_b, paper_b, int(train.get("batch_size", 64)), device,
                            dtype, channels_last, seed)
    network = network.to("cpu", memory_format=torch.contiguous_format)
    save_source(model_path, network, tiles.elements, crop=info["crop"], window=info["window"],
                epochs=epochs, seed=seed, tiles=str(tiles.path))
    summary.update(**metrics, runtime=runtime(device, threads, dtype))
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
    tiles = as_tileset(tiles)
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
    log_start("skt", device, info, elements)
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
    metrics = final_metrics(skt_model, task.names, test_b, paper_b, int(train.get("batch_size", 64)),
                            device, dtype, channels_last, seed)
    skt_model = skt_model.to("cpu", memory_format=torch.contiguous_format)
    save_skt(model_path, skt_model, crop=info["crop"], window=info["window"], label_core=info["label_core"],
             seed=seed,
             source={k: v for k, v in (source_info or {}).items() if k in ("elements", "width", "epochs", "tiles",
                                                                          "note")},
             mask=skt_model.mask.weight.detach().tolist() if skt_model.mask is not None else None)
    summary.update(**metrics, runtime=runtime(device, threads, dtype),
                   soft_mask_values=dict(zip(elements, skt_model.mask.weight.detach().tolist()))
                   if skt_model.mask is not None else None,
                   source=source_info and {k: v for k, v in source_info.items()
                                           if k in ("elements", "width", "epochs", "tiles", "note")})
    if metrics_path is not None:
        write_json(metrics_path, summary)
    return summary
