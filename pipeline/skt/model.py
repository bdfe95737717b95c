"""The SKT network (paper section 3): soft mask, one dilated convolution per target
network, target ResNet-18s that borrow the frozen source kernels. Their vote is
``pipeline.nets.metrics.vote``, with the training loop that scores every network by it.

    x (B, C, S, S) -> x * M (eq. 6) -> for each target v:
        depthwise 3x3 convolution with dilation rho_v, no padding (eq. 7),
        giving (B, C, S - 2 rho_v, S - 2 rho_v) -> target network N_tv -> logits
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..nets.resnet import resnet18
from .transfer import TransferConv2d, freeze, transferred_network


class SoftMask(nn.Module):
    """One learnable scalar per element (eq. 6), shared by all target networks."""

    def __init__(self, channels, init=None):
        super().__init__()
        values = torch.ones(channels) if init is None else torch.as_tensor(init, dtype=torch.float32)
        if values.shape != (channels,):
            raise ValueError(f"soft mask needs {channels} initial values, got {tuple(values.shape)}")
        self.weight = nn.Parameter(values.clone())

    def forward(self, x):
        return x * self.weight.view(1, -1, 1, 1)


class DilatedInput(nn.Module):
    """Eq. 7: a 3x3 dilated convolution per element (depthwise), no padding, no bias.

    Initialised to the identity (centre tap 1, others 0): at the start a target
    network sees its input cropped by ``rho`` on each side, so the transferred source
    network starts from inputs it knows, and the off-centre taps, which reach
    ``rho`` pixels away, are learned.
    """

    def __init__(self, channels, dilation):
        super().__init__()
        self.dilation = int(dilation)
        self.weight = nn.Parameter(torch.zeros(channels, 1, 3, 3))
        with torch.no_grad():
            self.weight[:, 0, 1, 1] = 1.0

    def output_size(self, size):
        return size - 2 * self.dilation

    def forward(self, x, scale=None):
        """``scale``: per-element factors (the soft mask) folded into the kernel."""
        weight = self.weight if scale is None else self.weight * scale.view(-1, 1, 1, 1)
        return F.conv2d(x, weight, None, 1, 0, self.dilation, x.shape[1])


def zauc_mask_init(elements, zauc):
    """Soft-mask start values from screening Z_AUC, scaled to mean 1 (negatives clipped to 0)."""
    if zauc is None:
        raise InputError("skt.mask_init is 'zauc' but no screening Z_AUC values were given")
    missing = [e for e in elements if e not in zauc]
    if missing:
        raise InputError(f"skt.mask_init is 'zauc' but the screening table has no Z_AUC for {missing}")
    values = np.array([float(zauc[e]) for e in elements], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        bad = [e for e, v in zip(elements, values) if not np.isfinite(v)]
        raise InputError(f"Z_AUC is not a finite number for {bad}", column="z_auc")
    values = np.clip(values, 0.0, None)
    if values.mean() <= 0:
        raise InputError(f"Z_AUC of {elements} are all <= 0: cannot scale the soft mask to mean 1",
                         column="z_auc")
    return (values / values.mean()).astype(np.float32)


class SKTModel(nn.Module):
    """Soft mask + dilated inputs + target networks (+ the frozen source they use).

    ``forward`` returns a list of logits (B, 2), one per target network, in the
    order of ``dilations``.
    """

    def __init__(self, elements, dilations, *, width=16, source=None, transfer=True,
                 transfer_mode="product", soft_mask=True, mask_init=None):
        super().__init__()
        self.elements = list(elements)
        self.dilations = [int(d) for d in dilations]
        channels = len(self.elements)
        self.mask = SoftMask(channels, mask_init) if soft_mask else None
        self.dilated = nn.ModuleList(DilatedInput(channels, rho) for rho in self.dilations)
        if transfer:
            if source is None:
                raise ValueError("transfer needs a source network")
            if source.in_channels != channels:
                raise ValueError(f"source network takes {source.in_channels} channels, model has {channels}")
            self.source = freeze(source)
            self.targets = nn.ModuleList(transferred_network(source, transfer_mode) for _ in self.dilations)
        else:
            self.source = None
            self.targets = nn.ModuleList(resnet18(channels, 2, width) for _ in self.dilations)
        self.transfer = bool(transfer)
        self.transfer_mode = transfer_mode if transfer else None
        self.width = self.targets[0].width

    def train(self, mode=True):
        super().train(mode)
        if self.source is not None:
            self.source.eval()    # never run, but keep its statistics untouched
        return self

    @property
    def names(self):
        """Stable names of the target networks: t{v}_rho{rho}."""
        return [f"t{v}_rho{rho}" for v, rho in enumerate(self.dilations, start=1)]

    def distillation_order(self):
        """Target indices from largest input (smallest rho) to smallest; ties keep list order."""
        return sorted(range(len(self.dilations)), key=lambda v: (self.dilations[v], v))

    def min_input_size(self):
        return 2 * max(self.dilations) + 1

    def selection_matrices(self):
        """Every target convolution's selection matrix P (none without transfer)."""
        return [m.selection for t in self.targets for m in t.modules() if isinstance(m, TransferConv2d)]

    def forward(self, x):
        """``x``: one batch all target networks see, or a list of one batch per
        target network (per-target crops of the same windows)."""
        views = list(x) if isinstance(x, (list, tuple)) else [x] * len(self.targets)
        if len(views) != len(self.targets):
            raise ValueError(f"{len(views)} input views for {len(self.targets)} target networks")
        size = min(min(v.shape[-2:]) for v in views)
        if size < self.min_input_size():
            raise ValueError(f"input {tuple(views[0].shape[-2:])} is too small for dilation {max(self.dilations)}")
        # The mask (eq. 6) and the dilated convolution (eq. 7) are both linear and per
        # element, so conv(x * M) == conv_with_kernel_times_M(x): folding M into the
        # 3x3 kernels gives the same result without a gradient for the input
        # batch, which halves the cost of the dilated convolution's backward pass.
        scale = self.mask.weight if self.mask is not None else None
        return [net(dil(v, scale)) for v, dil, net in zip(views, self.dilated, self.targets)]


def build_skt(elements, skt_cfg, model_cfg, *, source=None, zauc=None):
    """An SKTModel from the ``skt`` and ``model`` config sections.

    ``source``: a trained ResNet18 whose input channels follow ``elements`` (needed
    when ``skt.transfer`` is on). ``zauc``: {element: Z_AUC} for ``mask_init: zauc``.
    """
    dilations = list(skt_cfg.get("dilations", [1, 2, 3, 4, 6]))
    if not skt_cfg.get("dilation", True):
        dilations = [1] * len(dilations)       # ablation R-D-Convolution
    mask_init = None
    if skt_cfg.get("soft_mask", True) and skt_cfg.get("mask_init", "ones") == "zauc":
        mask_init = zauc_mask_init(elements, zauc)
    transfer = bool(skt_cfg.get("transfer", True))
    return SKTModel(elements, dilations, width=int(model_cfg.get("width", 16)),
                    source=source if transfer else None, transfer=transfer,
                    transfer_mode=skt_cfg.get("transfer_mode", "product"),
                    soft_mask=bool(skt_cfg.get("soft_mask", True)), mask_init=mask_init)
