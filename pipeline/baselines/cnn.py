"""CNN baselines of the paper's Table 3, adapted to the element channels, and the
window scoring shared with SKT.

Six networks come from torchvision, untrained (``weights=None``), with two classes
and the stem convolution replaced by one that takes C element channels (same
kernel, stride and padding; Kaiming-normal initialised). ``width`` scales the
channel counts where the architecture has a width parameter, so the CPU demo
can run them small; ``width=1`` is each network's standard size:

* resnet18: torchvision ``resnet18``. torchvision's ResNet cannot be narrowed
  (its BasicBlock only supports 64 base channels), so for ``width != 1`` it is
  the package's own ResNet-18 (``pipeline.nets.resnet``: the same layout, every
  channel count times ``width``), the network SKT's targets are built on.
* shufflenet_v2: torchvision ``ShuffleNetV2`` with the x1.0 stage layout; the
  three stage widths (116, 232, 464) are scaled by ``width`` (rounded to even
  numbers, as the channel split needs), stem (24) and last conv (1024) kept.
* googlenet: torchvision ``GoogLeNet`` with ``aux_logits=False`` (the auxiliary
  heads are a training aid for 224-pixel inputs and there is no loss for them
  in the shared training loop) and ``init_weights=True``; no width parameter,
  so it always runs at full size.
* mobilenet_v2: torchvision ``MobileNetV2(width_mult=width)``.
* mnasnet: torchvision ``MNASNet(alpha=width)`` (alpha 1 is mnasnet1_0), with
  BatchNorm momentum 0.1 instead of its TensorFlow-style 0.0003: that suits
  ImageNet-length training, but in the few hundred steps here the running
  statistics would stay near their initial values and evaluation-mode outputs
  would collapse towards zero.
* efficientnet_b0: torchvision ``EfficientNet`` with the B0 stage table of Tan
  and Le (2019), Table 1, at ``width_mult=width`` (at 1 it is ``efficientnet_b0``).

MnasNet's and EfficientNet's classifier initialisation scales with the number of
classes; with two it starts at logits of about +-15 and diverges at the paper's
lr, so their last linear layer gets N(0, 0.01) weights (``_small_classifier``).

The three Table 3 networks no package ships are written from their papers in
this package (each module's docstring says what was changed and why):

* scnet: ResNet-18 with the self-calibrated convolutions of Liu et al. (2020)
  (``pipeline.baselines.scnet``); the seed paper builds SCNet on ResNet-18.
* snl: ResNet-18 with one spectral nonlocal block of Zhu et al. (2021) before
  the last block of the third stage (``pipeline.baselines.snl``).
* t2t_vit_14: T2T-ViT-14 of Yuan et al. (2021) (``pipeline.baselines.t2t_vit``),
  its first soft split sized from the training crop (``crop``), so a saved
  model is rebuilt with the crop it was trained on.

All of them end in adaptive average pooling (T2T-ViT: a class token and
position encodings computed for the token grid at hand), so the same network
takes the training crops and the whole test windows (tested down to 20-pixel
crops).

Training is the shared loop (``pipeline.nets.train.fit``) with the same tiles,
random crops, Gaussian-noise balancing, SGD schedule, epochs and seed; test
windows are scored whole, as SKT's. Every network of the paper's Table 3 is
included (``NOT_INCLUDED`` is empty).
"""

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision import models as tvm
from torchvision.models.efficientnet import MBConvConfig

from ..dense_map import dense_map, painted_core, stride_for
from ..errors import InputError
from ..methods import CNNS, TABLE3_NETS
from ..nets.checkpoint import file_stamp, fingerprint
from ..nets.device import (amp_dtype, autocast, channels_last_for, configure_backend, resolve_device,
                           seed_everything, set_threads)
from ..nets.files import load_torch, save_torch
from ..nets.resnet import resnet18 as narrow_resnet18
from ..nets.runinfo import log_window_check
from ..nets.scoring import batch_probabilities
from ..nets.splits import prepare_batches
from ..nets.tileset import load_tiles
from ..nets.train import Task, fit
from ..window_plan import resolve_crop
from .scnet import scnet18
from .snl import snl_resnet18
from .t2t_vit import first_split, t2t_vit_14

NAMES = CNNS
#: Table 3 networks that are not run, and why: none since SCNet, T2T-ViT-14 and SNL
#: were written here (the comparison table's "Not included" section is left out when empty).
NOT_INCLUDED = {}
CNN_KIND = "cnn-baseline"
_SHUFFLE_STAGES = (116, 232, 464)
# EfficientNet-B0 (Tan and Le 2019, Table 1): expand ratio, kernel, stride, in, out, layers
_B0_STAGES = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
              (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))
log = logging.getLogger(__name__)


def canonical_name(name):
    key = str(name).lower().replace("-", "_").replace(" ", "_")
    key = {"shufflenetv2": "shufflenet_v2", "mobilenetv2": "mobilenet_v2", "efficientnet": "efficientnet_b0",
           "efficientnetb0": "efficientnet_b0", "resnet18": "resnet18", "t2tvit14": "t2t_vit_14",
           "t2tvit": "t2t_vit_14", "scnet18": "scnet", "snlresnet18": "snl"}.get(key.replace("_", ""), key)
    if key not in NAMES:
        raise InputError(f"unknown CNN baseline {name!r}; choose from {', '.join(NAMES)}")
    return key


def _replace_stem(model, in_channels):
    """Swap the first convolution (the stem, which expects RGB) for one taking ``in_channels``."""
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                if child.groups != 1:
                    raise ValueError(f"first convolution of {type(model).__name__} is grouped")
                conv = nn.Conv2d(in_channels, child.out_channels, child.kernel_size, child.stride, child.padding,
                                 child.dilation, bias=child.bias is not None)
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
                if conv.bias is not None:
                    nn.init.zeros_(conv.bias)
                setattr(parent, child_name, conv)
                return model
    raise ValueError(f"{type(model).__name__} has no convolution")


def _even(value):
    return max(2, int(round(value / 2.0)) * 2)


def build_cnn(name, in_channels, width=1.0, num_classes=2, crop=None):
    """An untrained network for ``in_channels`` input channels (see module doc).

    ``crop`` (the training crop, pixels) only shapes T2T-ViT-14's first soft split;
    None means the paper's 224.
    """
    name = canonical_name(name)
    width = float(width)
    if not 0 < width <= 4:
        raise InputError(f"baselines.cnn_width must be in (0, 4], got {width}")
    in_channels = int(in_channels)
    if name == "scnet":
        return scnet18(in_channels, num_classes, width)
    if name == "snl":
        return snl_resnet18(in_channels, num_classes, width)
    if name == "t2t_vit_14":
        return t2t_vit_14(in_channels, num_classes, width, crop=crop)
    if name == "resnet18":
        if width == 1.0:
            return _replace_stem(tvm.resnet18(weights=None, num_classes=num_classes), in_channels)
        return narrow_resnet18(in_channels, num_classes, max(1, int(round(64 * width))))
    if name == "shufflenet_v2":
        stages = [24] + [_even(c * width) for c in _SHUFFLE_STAGES] + [1024]
        net = tvm.ShuffleNetV2([4, 8, 4], stages, num_classes=num_classes)
    elif name == "googlenet":
        net = tvm.GoogLeNet(num_classes=num_classes, aux_logits=False, init_weights=True)
    elif name == "mobilenet_v2":
        net = tvm.MobileNetV2(num_classes=num_classes, width_mult=width)
    elif name == "mnasnet":
        net = tvm.MNASNet(width, num_classes=num_classes)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = 0.1
        _small_classifier(net)
    else:
        stages = [MBConvConfig(*row, width_mult=width, depth_mult=1.0) for row in _B0_STAGES]
        net = tvm.EfficientNet(stages, dropout=0.2, num_classes=num_classes)
        _small_classifier(net)
    return _replace_stem(net, in_channels)


def _small_classifier(net):
    """N(0, 0.01) weights for the last linear layer (MobileNetV2's and GoogLeNet's init).

    MnasNet and EfficientNet scale it by the number of outputs; with 2 classes instead
    of ImageNet's 1000 that gives weights some 20 times larger and logits of about
    +-15 at the start, which an SGD step at lr 0.1 turns into NaN.
    """
    last = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    nn.init.normal_(last.weight, 0.0, 0.01)
    nn.init.zeros_(last.bias)


def cnn_task(network, name):
    """A single-output Task for the shared training loop: cross-entropy on the logits."""
    def loss(logits, y):
        ce = nn.functional.cross_entropy(logits[0].float(), y)
        return ce, {"ce": ce}
    return Task(network, [name], loss)


def save_cnn(path, network, **info):
    save_torch(path, {"kind": CNN_KIND, "state_dict": network.state_dict(), **info})


def load_cnn(path):
    """(network in eval mode on the CPU, the file's other entries)."""
    obj = load_torch(path, CNN_KIND)
    network = build_cnn(obj["method"], len(obj["elements"]), obj["width"], crop=obj.get("crop"))
    network.load_state_dict(obj["state_dict"])
    return network.eval(), {k: v for k, v in obj.items() if k != "state_dict"}


def score_windows(model, tiles, elements, train_cfg, *, seed, device, batch_size=None):
    """"With mines" probability of every model output on the test windows, scored whole.

    Returns {"y", "prob" (m, N)} for the spatial test split and {"y_paper",
    "prob_paper"} for the paper's protocol (the test split balanced with
    Gaussian-noise copies of the smaller class, drawn from ``seed + 2`` as SKT's
    training does). Uses the shared data preparation (``pipeline.nets.splits``),
    so every deep model sees the same windows, channels and copies.
    """
    _, test, paper, _ = prepare_batches(tiles, elements, train_cfg, device)
    dtype = amp_dtype(device, bool(train_cfg.get("amp", True)))
    channels_last = channels_last_for(device, train_cfg.get("channels_last", True))
    batch_size = int(batch_size or train_cfg.get("batch_size", 64))
    model = model.to(device)
    prob, y = batch_probabilities(model, test.eval_batches(batch_size), device, dtype, channels_last)
    gen = torch.Generator(device=device).manual_seed(int(seed) + 2)
    prob_paper, y_paper = batch_probabilities(model, paper.eval_batches(batch_size, gen), device, dtype,
                                              channels_last)
    return {"y": y, "prob": prob, "y_paper": y_paper, "prob_paper": prob_paper}


def train_cnn(tiles, *, method, width=1.0, train, seed=42, device="auto", threads=None, model_path,
              checkpoint_path=None, log_path=None, progress=True, stop_after=None):
    """Train one CNN baseline on ``tiles`` (TileSet or tiles directory) with SKT's loop
    and schedule (``train`` section: epochs, batch size, lr, crops, balancing).

    Writes ``model_path`` (weights and what rebuilds them), the checkpoint and the
    log CSV. Returns (summary dict, test scores from ``score_windows`` or None when
    stopped early by ``stop_after``).
    """
    method = canonical_name(method)
    tiles = tiles if not isinstance(tiles, (str, Path)) else load_tiles(tiles)
    device = resolve_device(device)
    set_threads(threads)
    configure_backend(device)
    seed = int(seed)
    seed_everything(seed)
    network = build_cnn(method, len(tiles.elements), width, crop=resolve_crop(train.get("crop", 56), tiles.window))
    train_b, test_b, _, info = prepare_batches(tiles, tiles.elements, train, device)
    stamp = fingerprint("cnn", method, float(width), dict(train), seed, tiles.elements, info,
                        file_stamp(Path(tiles.path) / "windows.npy") if tiles.path else None, device.type)
    log.info("%s: device %s, %d threads, width %g, %d parameters, elements %s", method, device,
             torch.get_num_threads(), width, parameter_count(network), tiles.elements)
    log_window_check(method, tiles, info["crop"], [0])
    task = cnn_task(network, method)
    epochs = int(train.get("epochs", 12))
    history, finished = fit(task, train_b, test_b, train, epochs=epochs, seed=seed, device=device,
                            checkpoint_path=checkpoint_path, log_path=log_path, stamp=stamp, progress=progress,
                            stop_after=stop_after, desc=method)
    summary = {"method": method, "finished": finished, "epochs_done": len(history), "width": float(width),
               "parameters": parameter_count(network), "elements": tiles.elements,
               **info}
    if not finished:
        return summary, None
    scores = score_windows(network, tiles, tiles.elements, train, seed=seed, device=device)
    network = network.to("cpu", memory_format=torch.contiguous_format)
    save_cnn(model_path, network, method=method, width=float(width), elements=list(tiles.elements),
             crop=info["crop"], window=info["window"], label_core=info["label_core"], seed=seed, epochs=epochs)
    return summary, scores


@torch.inference_mode()
def _probabilities(model, x, batch_size, device, dtype):
    out = []
    for start in range(0, len(x), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(x[start:start + batch_size])).to(device)
        with autocast(device, dtype):
            logits = model(batch)
        out.append(torch.softmax(logits.float(), 1)[:, 1].cpu())
    return torch.cat(out).double().numpy() if out else np.zeros(0)


def predict_cnn_map(model_path, stack_path, out_path, *, overlap=0.5, batch_size=64, window=None, device="auto",
                    threads=None, amp=True, core=None):
    """Dense probability GeoTIFF of a CNN baseline on the stack's grid, made as
    SKT's map (``pipeline.dense_map``; ``core`` as ``predict_map``'s). Nodata where
    every stack band is nodata.
    Returns a summary."""
    stride_for(1, overlap)  # a bad overlap fails before the model loads
    model, info = load_cnn(model_path)
    device = resolve_device(device)
    set_threads(threads)
    configure_backend(device)
    model.to(device)
    dtype = amp_dtype(device, amp)
    win = int(window or info["window"])
    stride = stride_for(win, overlap)

    def score(x):
        return _probabilities(model, x, batch_size, device, dtype)[None]

    summary = dense_map(score, stack_path, info["elements"],
                        [(out_path, [f"{info['method']}_probability"], lambda v: v)], window=win, stride=stride,
                        batch_size=batch_size, core=painted_core(win, info.get("label_core"), core),
                        tags={"method": info["method"], "overlap": overlap, "elements": ",".join(info["elements"]),
                              "model": str(model_path)})
    return {**summary, "device": str(device), "method": info["method"]}


def parameter_count(network):
    return int(sum(p.numel() for p in network.parameters()))


#: what the networks written here are, for the metrics file (details in each module's docstring)
_WRITTEN = {
    "scnet": "written from Liu et al. 2020 (pipeline.baselines.scnet): the package's ResNet-18 with every 3x3 "
             "convolution self-calibrated (pooling r=4, adaptive on small maps), as the seed paper's ResNet-18 SCNet",
    "snl": "written from Zhu et al. 2021 (pipeline.baselines.snl): the package's ResNet-18 with one spectral "
           "nonlocal block before the last residual block of layer3 (res4)",
    "t2t_vit_14": "written from Yuan et al. 2021 (pipeline.baselines.t2t_vit): T2T module and 14 layers; first soft "
                  "split sized from the training crop, 2-D sinusoidal positions for any input size, standard "
                  "attention in the T2T layers",
}


def adaptation_notes(name, width, crop=None):
    """A short note on what was changed from the standard network, for the metrics file."""
    name = canonical_name(name)
    if name in TABLE3_NETS:
        notes = ["weights=None (trained from scratch)", "num_classes=2", "first layer takes the input channels",
                 _WRITTEN[name]]
        if name == "t2t_vit_14" and crop is not None:
            kernel, stride, padding = first_split(crop)
            notes.append(f"first soft split kernel {kernel}, stride {stride}, padding {padding} for {crop}-pixel "
                         "crops (paper: 7, 4, 2 at 224)")
        if width != 1.0:
            notes.append(f"width multiplier {width:g}")
        return notes
    notes = ["weights=None (trained from scratch)", "num_classes=2", "stem convolution takes the element channels"]
    if name == "googlenet":
        notes.append("aux_logits=False; no width parameter, full size")
    if name == "mnasnet":
        notes.append("BatchNorm momentum 0.1 (torchvision: 0.0003)")
    if name in ("mnasnet", "efficientnet_b0"):
        notes.append("classifier initialised N(0, 0.01)")
    elif width != 1.0:
        notes.append("resnet18 below full width is the package's ResNet-18 (torchvision's cannot be narrowed)"
                     if name == "resnet18" else f"width multiplier {width:g}")
    return notes
