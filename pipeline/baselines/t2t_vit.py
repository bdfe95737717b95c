"""T2T-ViT-14 of the paper's Table 3: tokens-to-token module and a 14-layer transformer.

Written from Yuan et al., "Tokens-to-Token ViT: Training Vision Transformers from
Scratch on ImageNet" (ICCV 2021), section 3 and Table 1.

As in the paper:

* Tokens-to-token (T2T) module: a soft split of the image (overlapping patches
  unfolded into tokens), then twice [T2T transformer layer; re-structurization
  of the tokens into an image; soft split with kernel 3, stride 2, padding 1],
  then a linear projection to the backbone width. T2T transformer layers are
  narrow (token width 64) with one attention head and an MLP of ratio 1.
* Backbone (T2T-ViT-14): a class token, sinusoidal position encodings, 14
  pre-norm transformer layers of width 384 with 6 heads and MLP width 1152
  (ratio 3), a final layer norm and a linear classifier on the class token.

Changes, and why:

* First soft split sized for the crops. The paper's is kernel 7, stride 4,
  padding 2, so with the two stride-2 splits the backbone sees 224/16 = 14x14
  tokens. At the 56-pixel crops of the demo that would be 4x4 tokens, and at
  the 20-28 pixel crops of the small surveys 2x2: too few for attention to
  relate anything. So the first split's stride is chosen from the training
  crop (``crop``) as the largest of 4, 2, 1 that leaves at least 7x7 backbone
  tokens (half the paper's side): stride 4 (kernel 7, padding 2, the paper's)
  for crops of 112 and more, stride 2 (kernel 3, padding 1, like the later
  splits) for 56-111, stride 1 (kernel 3, padding 1) below. Backbone tokens:
  14x14 at 224, 7x7 at 56 and 28, 5x5 at 20. The network is rebuilt with the
  same crop when a saved model is loaded.
* Any input size: the whole test windows are larger than the training crops,
  so the position encoding is a 2-D sinusoid (half the channels encode the
  row, half the column) computed for the token grid at hand, instead of the
  paper's 1-D sinusoid over a fixed 196-token sequence. It has no parameters,
  like the paper's.
* Standard attention in the T2T layers (the paper's T2T-ViT_t variant; its
  default T2T-ViT-14 uses Performer there to save memory at 3136 tokens, which
  the small crops here do not need). The first T2T layer's input is C*k*k
  values wide (C element channels), its output 64: the residual is taken
  around the value projection, where the widths match.
* ``width`` scales the backbone and token widths (384 and 64 at width 1:
  6 heads of 64 * width channels each, token width 64 * width); depth (14),
  heads (6) and MLP ratios are kept.
* No dropout, drop-path or special optimiser: it is trained by the same SGD
  loop, schedule and data as the other Table 3 networks. Linear layers start
  from N(0, 0.02) truncated at 2 standard deviations, the classifier from
  N(0, 0.01), biases at zero, as in ViT-style training; the class token from
  N(0, 0.02).
"""


import torch
from torch import nn
from torch.nn import functional as F

DEPTH = 14
HEADS = 6
MLP_RATIO = 3.0
EMBED = 384        # backbone width at width 1 (6 heads x 64)
TOKEN = 64         # T2T layer width at width 1
PAPER_CROP = 224


def first_split(crop):
    """(kernel, stride, padding) of the first soft split for a training ``crop`` (see module doc)."""
    crop = PAPER_CROP if crop is None else int(crop)
    for kernel, stride, padding in ((7, 4, 2), (3, 2, 1)):
        if token_grid(crop, (kernel, stride, padding)) >= 7:
            return kernel, stride, padding
    return 3, 1, 1


def token_grid(size, first=None):
    """Backbone tokens along a side of ``size`` pixels, after the three soft splits."""
    for kernel, stride, padding in (first or first_split(size), (3, 2, 1), (3, 2, 1)):
        size = (size + 2 * padding - kernel) // stride + 1
    return size


def sincos_2d(height, width, dim, device, dtype=torch.float32):
    """(height * width, dim) 2-D sinusoidal position encoding: rows in the first half, columns in the second."""
    quarter = max(1, dim // 4)
    freq = 1.0 / (10000.0 ** (torch.arange(quarter, device=device, dtype=torch.float32) / quarter))
    rows = torch.arange(height, device=device, dtype=torch.float32)[:, None] * freq
    cols = torch.arange(width, device=device, dtype=torch.float32)[:, None] * freq
    row = torch.cat([rows.sin(), rows.cos()], 1)[:, None, :].expand(height, width, -1)
    col = torch.cat([cols.sin(), cols.cos()], 1)[None, :, :].expand(height, width, -1)
    pe = torch.cat([row, col], 2).reshape(height * width, -1)
    if pe.shape[1] < dim:
        pe = F.pad(pe, (0, dim - pe.shape[1]))
    return pe.to(dtype)


class Attention(nn.Module):
    """Multi-head self-attention; ``out_dim`` != ``dim`` is the T2T layer's narrowing attention."""

    def __init__(self, dim, heads, out_dim=None):
        super().__init__()
        out_dim = out_dim or dim
        if out_dim % heads:
            raise ValueError(f"attention width {out_dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * out_dim)
        self.proj = nn.Linear(out_dim, out_dim)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        out = self.proj(out.transpose(1, 2).reshape(b, n, -1))
        return out, v.transpose(1, 2).reshape(b, n, -1)


class Mlp(nn.Sequential):
    def __init__(self, dim, hidden):
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class Layer(nn.Module):
    """Pre-norm transformer layer: x + MSA(LN(x)), then + MLP(LN(.)). With ``out_dim``
    (T2T layer) the attention narrows the tokens and its residual is the values."""

    def __init__(self, dim, heads, mlp_ratio, out_dim=None):
        super().__init__()
        out_dim = out_dim or dim
        self.narrow = out_dim != dim
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, out_dim)
        self.norm2 = nn.LayerNorm(out_dim)
        self.mlp = Mlp(out_dim, max(1, int(round(out_dim * mlp_ratio))))

    def forward(self, x):
        attended, values = self.attn(self.norm1(x))
        x = (values if self.narrow else x) + attended
        return x + self.mlp(self.norm2(x))


class T2TModule(nn.Module):
    """Soft split, then twice (T2T layer, re-structurization, soft split 3/2/1), then a projection."""

    def __init__(self, in_channels, token_dim, embed_dim, crop=None):
        super().__init__()
        k0, s0, p0 = first_split(crop)
        self.splits = ((k0, s0, p0), (3, 2, 1), (3, 2, 1))
        self.layer1 = Layer(in_channels * k0 * k0, 1, 1.0, out_dim=token_dim)
        self.layer2 = Layer(token_dim * 9, 1, 1.0, out_dim=token_dim)
        self.project = nn.Linear(token_dim * 9, embed_dim)

    @staticmethod
    def soft_split(image, kernel, stride, padding):
        """(B, C, H, W) -> tokens (B, H'W', C*k*k) and the new grid (H', W')."""
        h, w = image.shape[-2:]
        tokens = F.unfold(image, kernel, padding=padding, stride=stride).transpose(1, 2)
        return tokens, ((h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1)

    def forward(self, x):
        tokens, grid = self.soft_split(x, *self.splits[0])
        for layer, split in ((self.layer1, self.splits[1]), (self.layer2, self.splits[2])):
            tokens = layer(tokens)
            image = tokens.transpose(1, 2).reshape(x.shape[0], -1, *grid)      # re-structurization
            tokens, grid = self.soft_split(image, *split)
        return self.project(tokens), grid


class T2TViT(nn.Module):
    """T2T-ViT-14 (see module doc), ``num_classes`` outputs from the class token."""

    def __init__(self, in_channels, num_classes=2, width=1.0, crop=None, depth=DEPTH):
        super().__init__()
        head_dim = max(1, int(round(EMBED / HEADS * float(width))))
        self.embed_dim = HEADS * head_dim
        self.crop = crop
        token_dim = max(1, int(round(TOKEN * float(width))))
        self.t2t = T2TModule(int(in_channels), token_dim, self.embed_dim, crop)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
        self.blocks = nn.Sequential(*[Layer(self.embed_dim, HEADS, MLP_RATIO) for _ in range(depth)])
        self.norm = nn.LayerNorm(self.embed_dim)
        self.head = nn.Linear(self.embed_dim, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.cls_token, std=0.02, a=-0.04, b=0.04)
        nn.init.normal_(self.head.weight, 0.0, 0.01)

    def forward(self, x):
        tokens, (h, w) = self.t2t(x)
        tokens = tokens + sincos_2d(h, w, self.embed_dim, tokens.device, tokens.dtype)
        tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1).to(tokens.dtype), tokens], 1)
        tokens = self.norm(self.blocks(tokens))
        return self.head(tokens[:, 0])


def t2t_vit_14(in_channels, num_classes=2, width=1.0, crop=None):
    """T2T-ViT-14 for ``in_channels`` channels, sized for training crops of ``crop`` pixels (None: 224)."""
    return T2TViT(in_channels, num_classes=num_classes, width=width, crop=crop)
