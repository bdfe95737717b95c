"""SCNet of the paper's Table 3: ResNet-18 with self-calibrated convolutions.

Written from Liu et al., "Improving convolutional networks with self-calibrated
convolutions" (CVPR 2020), section 3. The seed paper (Huang et al. 2022, section
4.2) builds SCNet on ResNet-18 "for fairness of comparison", so this is the
package's own ResNet-18 (``pipeline.nets.resnet``: 7x7/2 stem, 3x3/2 max pool,
four stages of two basic blocks, global average pooling, one linear layer)
whose 3x3 convolutions are self-calibrated.

Self-calibrated convolution (SCConv), for input X and output Y:

* X is split along the channels into X1 and X2 (halves).
* X2 takes the plain path: Y2 = K1 * X2.
* X1 is calibrated: T1 = AvgPool_r(X1) (filter and stride r = 4, the paper's
  choice), X1' = Up(K2 * T1) (bilinear up-sampling back to X1's size),
  Y1' = (K3 * X1) . sigmoid(X1 + X1'), Y1 = K4 * Y1'.
* Y = [Y1, Y2] (concatenated).

K1..K4 are 3x3 convolutions. Choices the paper leaves open or that this network
needs:

* SCNet replaces the single 3x3 convolution of every bottleneck block; a
  ResNet-18 basic block has two 3x3 convolutions and both are replaced. The
  stem (7x7) and the 1x1 shortcut projections stay plain, as in SCNet.
* Blocks that change the width or the resolution: K2 and K3 keep X1's channels
  (the sum X1 + X1' needs it); K4 and K1 map to half of the output channels
  each and carry the block's stride, so the calibration runs at the input
  resolution. Where input and output widths are equal (every convolution but
  the first of stages 2-4), K1..K4 have exactly a plain convolution's
  parameters, as the paper states; the three widening convolutions have 25 %
  fewer (K2 and K3 stay at the input width).
* Batch normalisation: the block's BN after the convolution normalises Y1 and
  Y2 channel by channel (the same as one BN after K4 and one after K1); K2 and
  K3 each get their own BN inside the calibration.
* The pooling is adaptive to ceil(H/r) x ceil(W/r) cells: on maps a multiple of
  r it is exactly AvgPool_r; on the small maps of 20-56 pixel crops (down to
  1x1 in the last stage) it still gives at least one cell, where a fixed 4x4
  pool would fail.

``width`` scales every channel count as the package's ResNet-18 does (base 64 at
width 1).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..nets.resnet import ResNet18

POOLING_R = 4


class SCConv(nn.Module):
    """Self-calibrated 3x3 convolution (Liu et al. 2020, eqs. 1-4), any widths and stride."""

    def __init__(self, in_channels, out_channels, stride=1, r=POOLING_R):
        super().__init__()
        if in_channels < 2 or out_channels < 2:
            raise ValueError("a self-calibrated convolution needs at least 2 input and output channels")
        self.split = in_channels // 2                 # X1: the first half, calibrated
        c1, c2 = self.split, in_channels - self.split
        o1 = out_channels // 2
        self.r = int(r)
        self.k1 = nn.Conv2d(c2, out_channels - o1, 3, stride, 1, bias=False)
        self.k2 = nn.Sequential(nn.Conv2d(c1, c1, 3, 1, 1, bias=False), nn.BatchNorm2d(c1))
        self.k3 = nn.Sequential(nn.Conv2d(c1, c1, 3, 1, 1, bias=False), nn.BatchNorm2d(c1))
        self.k4 = nn.Conv2d(c1, o1, 3, stride, 1, bias=False)

    def forward(self, x):
        x1, x2 = x[:, :self.split], x[:, self.split:]
        h, w = x1.shape[-2:]
        t1 = F.adaptive_avg_pool2d(x1, (math.ceil(h / self.r), math.ceil(w / self.r)))
        x1_up = F.interpolate(self.k2(t1), size=(h, w), mode="bilinear", align_corners=False)
        y1 = self.k4(self.k3(x1) * torch.sigmoid(x1 + x1_up))
        return torch.cat([y1, self.k1(x2)], dim=1)


def _sc_conv(in_channels, out_channels, kernel_size, stride=1, padding=0):
    """Convolution factory for ResNet18: 3x3 convolutions are self-calibrated, others plain."""
    if kernel_size == 3:
        return SCConv(in_channels, out_channels, stride)
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)


def scnet18(in_channels, num_classes=2, width=1.0):
    """ResNet-18 with self-calibrated convolutions, base width ``64 * width``."""
    base = max(2, int(round(64 * float(width))))
    return ResNet18(int(in_channels), num_classes=num_classes, width=base, conv=_sc_conv)
