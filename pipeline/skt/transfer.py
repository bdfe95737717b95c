"""Selective knowledge transfer (paper section 3.3, eqs. 8-9).

Every convolution of a target network computes its kernel from the frozen source
kernel w_S, a learnable selection matrix P of the same shape and the target's own
kernel w_t:

    product  (eq. 9 as printed):      W = (w_S * P) * w_t
    additive (the other reading):     W = w_S * P + w_t

(* is the element-wise, Hadamard product). Both start from W = w_S, so an untrained
target network computes exactly what the source network computes: product mode
with P = 1 and w_t = 1, additive mode with P = 1 and w_t = 0. The source kernel is
read from the shared source network at every forward pass and never receives a
gradient. BatchNorm layers and the final linear layer are copied from the source
as initial values and then trained freely per target network.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ..nets.resnet import resnet18

MODES = ("product", "additive")


class TransferConv2d(nn.Module):
    """Convolution whose kernel is derived from a source convolution (no bias)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, mode="product"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"transfer mode must be one of {MODES}, got {mode!r}")
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.mode = mode
        self.stride = stride
        self.padding = padding
        self.weight = nn.Parameter(torch.empty(shape))      # w_t, the target's own kernel
        self.selection = nn.Parameter(torch.ones(shape))    # P
        self.reset_parameters()
        # The source convolution lives in the model's (registered) source network;
        # registering it here as well would list the shared frozen weights once per
        # target network in every state dict.
        object.__setattr__(self, "_source", None)

    def reset_parameters(self):
        nn.init.ones_(self.selection)
        if self.mode == "product":
            nn.init.ones_(self.weight)
        else:
            nn.init.zeros_(self.weight)

    def bind(self, source_conv):
        if tuple(source_conv.weight.shape) != tuple(self.weight.shape):
            raise ValueError(f"source kernel {tuple(source_conv.weight.shape)} does not match target "
                             f"kernel {tuple(self.weight.shape)}")
        object.__setattr__(self, "_source", source_conv)

    def effective_weight(self):
        if self._source is None:
            raise RuntimeError("TransferConv2d is not bound to a source convolution")
        source = self._source.weight.detach()
        if self.mode == "product":
            return source * self.selection * self.weight
        return source * self.selection + self.weight

    def forward(self, x):
        return F.conv2d(x, self.effective_weight(), None, self.stride, self.padding)

    def extra_repr(self):
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, stride={self.stride}, padding={self.padding}, mode={self.mode}"


def _factory(mode):
    def conv(in_channels, out_channels, kernel_size, stride=1, padding=0):
        return TransferConv2d(in_channels, out_channels, kernel_size, stride, padding, mode=mode)
    return conv


def transferred_network(source, mode="product"):
    """A target ResNet-18 bound to ``source`` (same layout); BatchNorm and fc copied."""
    target = resnet18(source.in_channels, num_classes=source.fc.out_features, width=source.width,
                      conv=_factory(mode))
    source_modules = dict(source.named_modules())
    for name, module in target.named_modules():
        if isinstance(module, TransferConv2d):
            module.bind(source_modules[name])
            module.reset_parameters()
    # every non-convolution tensor (BatchNorm affine and running statistics, fc)
    convs = {f"{n}.weight" for n, m in source.named_modules() if isinstance(m, nn.Conv2d)}
    state = {k: v.detach().clone() for k, v in source.state_dict().items() if k not in convs}
    missing, unexpected = target.load_state_dict(state, strict=False)
    own = {f"{n}.{p}" for n, m in target.named_modules() if isinstance(m, TransferConv2d)
           for p in ("weight", "selection")}
    leftover = sorted(set(missing) - own)
    if leftover or unexpected:
        raise RuntimeError(f"source and target layouts differ: missing {leftover}, unexpected {unexpected}")
    return target


def freeze(network):
    """Mark every parameter of ``network`` as not trainable; returns it."""
    for p in network.parameters():
        p.requires_grad_(False)
    return network
