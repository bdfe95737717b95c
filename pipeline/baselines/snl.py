"""SNL of the paper's Table 3: ResNet-18 with a spectral nonlocal block.

Written from Zhu et al., "Unifying Nonlocal Blocks for Neural Networks" (ICCV
2021). The seed paper (Huang et al. 2022, section 4.2) builds SNL on ResNet-18
"for fairness of comparison", so this is the package's own ResNet-18
(``pipeline.nets.resnet``) with one spectral nonlocal (SNL) block added.

The SNL block views a nonlocal block as a graph filter on the fully connected
graph of the feature map's N positions, approximated by a first-order
Chebyshev polynomial. For a feature map X (N positions, C channels):

* three 1x1 convolutions give phi(X), psi(X) and Z = g(X), each with C/2
  channels (the paper's reduction of 2);
* the affinity A is made symmetric (so that the graph Laplacian is
  diagonalisable, the paper's first change to earlier nonlocal blocks) and
  normalised as D^-1/2 A D^-1/2 with D the degree matrix (the normalised
  Laplacian, whose eigenvalues are bounded by 2 on any graph: the second);
* the output is Y = X + BN(Z W1 + (D^-1/2 A D^-1/2) Z W2): the zeroth- and
  first-order Chebyshev terms, each through its own 1x1 convolution W1, W2
  back to C channels (the paper's eq. 13, Figure 2).

Our choices where the description leaves room: the affinity is the symmetrised
embedded Gaussian, A_ij = exp((phi_i . psi_j + phi_j . psi_i) / (2 sqrt(C/2))),
which is positive, so every degree is positive and D^-1/2 exists (a plain dot
product can give negative or zero degrees); the normalisation is computed in
the log domain (log-degrees by logsumexp), so it neither overflows nor divides
by a degree that underflowed to zero. The BN's scale
starts at zero, so the block starts as the identity and training begins from
the plain ResNet-18 (the nonlocal papers' initialisation).

Where it goes: one block in the third stage (``layer3``, the res4 stage of
He et al.'s naming), right before its last residual block. That is where the
SNL paper puts its single block for ResNets on ImageNet, following the CGNL
protocol it compares with (Yue et al. 2018: "one block in res4, right before
the last residual block"). The reasons: the third stage is deep enough for the
features to be semantic, and its maps are still large enough (14x14 at 224
crops) for position-to-position dependencies to mean something, while the
N x N affinity stays cheap; the fourth stage's 7x7 maps leave little to relate.
A ResNet-18's third stage has two blocks, so the SNL block sits between them.
At the 56-pixel demo crops that stage's map is 4x4 (16 positions); at 20-pixel
crops 2x2.

``width`` scales every channel count as the package's ResNet-18 does.
"""

import math

import torch
from torch import nn

from ..nets.resnet import ResNet18


class SpectralNonlocal(nn.Module):
    """Spectral nonlocal block (first-order Chebyshev graph filter, symmetric normalised affinity)."""

    def __init__(self, channels, reduction=2):
        super().__init__()
        inner = max(1, channels // reduction)
        self.inner = inner
        self.phi = nn.Conv2d(channels, inner, 1, bias=False)
        self.psi = nn.Conv2d(channels, inner, 1, bias=False)
        self.g = nn.Conv2d(channels, inner, 1, bias=False)
        self.w1 = nn.Conv2d(inner, channels, 1, bias=False)      # zeroth-order term
        self.w2 = nn.Conv2d(inner, channels, 1, bias=False)      # first-order term
        self.bn = nn.BatchNorm2d(channels)

    def reset_parameters(self):
        for m in (self.phi, self.psi, self.g, self.w1, self.w2):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def affinity(self, x):
        """The normalised symmetric affinity D^-1/2 A D^-1/2, shape (B, N, N), in float32."""
        phi = self.phi(x).flatten(2).float()                  # B, C', N
        psi = self.psi(x).flatten(2).float()
        logits = torch.bmm(phi.transpose(1, 2), psi)          # B, N, N: phi_i . psi_j
        logits = (logits + logits.transpose(1, 2)) / (2.0 * math.sqrt(self.inner))
        # A_ij / sqrt(d_i d_j) in the log domain: log d_i = logsumexp_k L_ik, and the
        # exponent L_ij - (log d_i + log d_j) / 2 is <= 0, so nothing overflows and no
        # degree underflows to zero however spread the logits are
        log_degree = torch.logsumexp(logits, dim=2)                     # B, N
        return torch.exp(logits - 0.5 * (log_degree.unsqueeze(2) + log_degree.unsqueeze(1)))

    def forward(self, x):
        b, _, h, w = x.shape
        z = self.g(x)
        with torch.autocast(x.device.type, enabled=False):   # the affinity and the filtering in float32
            filtered = torch.bmm(z.flatten(2).float(), self.affinity(x.float()))   # (A Z)^T: A is symmetric
        filtered = filtered.to(z.dtype)
        out = self.w1(z) + self.w2(filtered.view(b, self.inner, h, w))
        return x + self.bn(out)


class SNLResNet18(ResNet18):
    """The package's ResNet-18 with a SpectralNonlocal block before the last block of layer3."""

    def __init__(self, in_channels, num_classes=2, width=64):
        super().__init__(in_channels, num_classes=num_classes, width=width)
        blocks = list(self.layer3.children())
        channels = blocks[-1].conv2.out_channels
        snl = SpectralNonlocal(channels)
        snl.reset_parameters()
        self.layer3 = nn.Sequential(*blocks[:-1], snl, blocks[-1])


def snl_resnet18(in_channels, num_classes=2, width=1.0):
    """ResNet-18 with one spectral nonlocal block, base width ``64 * width``."""
    base = max(2, int(round(64 * float(width))))
    return SNLResNet18(int(in_channels), num_classes=num_classes, width=base)
