"""Windows in, batches out: class balancing by Gaussian-noise copies (paper
section 2.2), random and centre crops, flips, and the batches the training loop
and the evaluation read.

Everything a batch needs is gathered with a few tensor operations (no Python per
sample): a split that fits ``train.max_in_memory_mb`` is held as one tensor (on the
GPU when it fits there too); a larger one stays in the memory-mapped ``windows.npy``
and each batch reads just its windows (``tileset.WindowReader``). Crops are taken
with one ``gather`` and noise is drawn for the whole batch at once.
"""

import numpy as np
import torch

from ..errors import InputError
from ..evaluation.metrics import noise_copy_counts
from .tileset import WindowReader


def sample_plan(labels, balance="noise", majority_copies=0):
    """(window position, copy number) of every sample; copy 0 is the window itself."""
    labels = np.asarray(labels, dtype=np.int64)
    if balance == "none":
        return np.arange(len(labels)), np.zeros(len(labels), dtype=np.int64)
    if balance != "noise":
        raise InputError(f"train.balance must be 'noise' or 'none', got {balance!r}")
    counts = noise_copy_counts((labels == 1).sum(), (labels == 0).sum(), majority_copies)
    reps = np.array([counts[int(v)] + 1 for v in labels], dtype=np.int64)
    position = np.repeat(np.arange(len(labels)), reps)
    copy = np.concatenate([np.arange(r) for r in reps]) if len(reps) else np.zeros(0, np.int64)
    return position, copy.astype(np.int64)


def place(x, device, fraction=0.3):
    """Move a float tensor to ``device`` when it fits in ``fraction`` of free memory;
    otherwise keep it in (pinned) host memory and move batches. A ``WindowReader``
    stays on disk: its batches move."""
    if isinstance(x, WindowReader):
        return x
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if x.numel() * x.element_size() < fraction * free:
            return x.to(device)
        return x.pin_memory()
    return x.to(device)


def crop_batch(x, positions, crop, offsets=None):
    """Windows ``x[positions]`` cropped to ``crop`` x ``crop`` at per-sample (row, col)
    ``offsets`` (B, 2); centre crops when ``offsets`` is None."""
    batch = x[positions]
    size = x.shape[-1]
    if crop >= size:
        return batch
    if offsets is None:
        start = (size - crop) // 2
        return batch[..., start:start + crop, start:start + crop]
    b, c = batch.shape[:2]
    steps = torch.arange(crop, device=batch.device)
    rows = offsets[:, 0:1].to(batch.device) + steps          # (B, crop)
    cols = offsets[:, 1:2].to(batch.device) + steps
    flat = (rows[:, :, None] * size + cols[:, None, :]).reshape(b, 1, crop * crop)
    out = torch.gather(batch.reshape(b, c, size * size), 2, flat.expand(b, c, crop * crop))
    return out.reshape(b, c, crop, crop)


AUGMENT = ("none", "flips")


def dihedral(x, transforms):
    """Apply one of the 8 flips / 90-degree rotations to each sample: ``transforms``
    (B,) in 0..7 (bit 0: flip rows, bit 1: flip columns, bit 2: transpose)."""
    t = transforms.to(x.device).view(-1, 1, 1, 1)
    x = torch.where((t & 1).bool(), x.flip(-2), x)
    x = torch.where((t & 2).bool(), x.flip(-1), x)
    return torch.where((t & 4).bool(), x.transpose(-1, -2), x)


class Batches:
    """Batches of (x, y) from one split with noise copies.

    ``x``: (n, C, S, S) tensor (on the training device when it fits) or a
    ``WindowReader`` over the memory-mapped tiles, ``labels``:
    (n,), ``plan``: (positions, copies) from ``sample_plan``. Training batches are
    shuffled random crops (with ``views`` > 1, that many independent crops of each
    window, for networks that each see their own); evaluation batches are centre
    crops in plan order. Copies > 0 get N(0, noise_std^2) noise, drawn afresh for
    each batch.
    """

    def __init__(self, x, labels, plan, *, crop, noise_std, device, augment="none", views=1):
        if augment not in AUGMENT:
            raise InputError(f"train.augment must be one of {AUGMENT}, got {augment!r}")
        self.augment = augment
        self.views = int(views)
        self.device = device
        self.x = x
        self.y = torch.tensor(np.asarray(labels), dtype=torch.long).to(device)
        self.positions = torch.as_tensor(plan[0], dtype=torch.long)
        self.copies = torch.as_tensor(plan[1], dtype=torch.long)
        self.crop = int(crop)
        self.noise_std = float(noise_std)

    def __len__(self):
        return len(self.positions)

    def _crop(self, pos, offsets, noise_gen, noisy, transforms):
        x = crop_batch(self.x, pos.to(self.x.device), self.crop, offsets)
        x = x.to(self.device, non_blocking=True)
        if transforms is not None:
            x = dihedral(x, transforms)
        if self.noise_std > 0 and bool(noisy.any()):
            noise = torch.randn(x.shape, generator=noise_gen, device=self.device, dtype=x.dtype)
            x = x + noise * (self.noise_std * noisy.to(self.device, x.dtype)).view(-1, 1, 1, 1)
        return x

    def _make(self, order, offsets, noise_gen, transforms=None):
        """x (B, C, crop, crop), or with ``views`` > 1 a list of such crops (one per
        view, each at its own offsets, (B, views, 2)), and labels."""
        pos = self.positions[order]
        noisy = self.copies[order] > 0
        if offsets is not None and offsets.dim() == 3:
            x = [self._crop(pos, offsets[:, v], noise_gen, noisy, transforms) for v in range(offsets.shape[1])]
        else:
            x = self._crop(pos, offsets, noise_gen, noisy, transforms)
        return x, self.y[pos.to(self.device)]

    def train_batches(self, batch_size, index_gen, noise_gen):
        """One epoch of shuffled random crops; a final batch of one sample is dropped
        (BatchNorm needs two)."""
        n = len(self)
        perm = torch.randperm(n, generator=index_gen)
        span = self.x.shape[-1] - self.crop + 1
        shape = (n, 2) if self.views == 1 else (n, self.views, 2)
        offsets = torch.randint(0, max(span, 1), shape, generator=index_gen)
        transforms = torch.randint(0, 8, (n,), generator=index_gen) if self.augment == "flips" else None
        for start in range(0, n, batch_size):
            order = perm[start:start + batch_size]
            if len(order) < 2 and n > 1:
                break
            yield self._make(order, offsets[start:start + batch_size], noise_gen,
                             None if transforms is None else transforms[start:start + batch_size])

    def eval_batches(self, batch_size, noise_gen=None):
        for start in range(0, len(self), batch_size):
            order = torch.arange(start, min(start + batch_size, len(self)))
            yield self._make(order, None, noise_gen)

    def n_batches(self, batch_size):
        n = len(self)
        full, rest = divmod(n, batch_size)
        return full + (1 if rest >= 2 or (rest == 1 and n == 1) else 0)
