"""Self-supervised pretraining of the source network: masked-band reconstruction.

For each window one element band is hidden (set to 0, its scaled centre) and the
network must predict that band's coarse pattern (its crop averaged to a 4 x 4
grid) from the other bands; a linear head on the pooled features gives one such
pattern per element and the hidden one is scored by mean squared error.

Why this task and not a contrastive one: what separates a geochemical anomaly
from background is how elements vary together in space, which is exactly what
predicting one band from the others asks for; it needs no labels and no choice
of "views" (the colour and blur augmentations of contrastive methods have no
geochemical meaning) and it costs one forward pass per batch. Every window with
data is used, whatever its split: no label is read, so nothing supervised sees
a held-out site.
"""

import logging

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..nets.batches import crop_batch
from ..window_inputs import VALIDITY

GRID = 4
log = logging.getLogger(__name__)


def features(network, x):
    """The ResNet-18's pooled features (its input to the final linear layer)."""
    x = network.maxpool(network.relu(network.bn1(network.conv1(x))))
    x = network.layer4(network.layer3(network.layer2(network.layer1(x))))
    return network.pool(x).flatten(1)


def masked_band_batch(x, element_channels, generator):
    """(masked input, hidden channel per sample, its GRID x GRID target)."""
    n = x.shape[0]
    pick = torch.randint(0, len(element_channels), (n,), generator=generator)
    hidden = torch.as_tensor(element_channels, device=x.device)[pick.to(x.device)]
    target = F.adaptive_avg_pool2d(x[torch.arange(n, device=x.device), hidden][:, None], GRID).flatten(1)
    masked = x.clone()
    masked[torch.arange(n, device=x.device), hidden] = 0.0
    return masked, hidden, target


def pretrain_masked_bands(network, tiles, *, epochs, batch_size=64, lr=0.05, crop=None, seed=0, device=None):
    """Pretrain ``network`` (a ResNet-18 on ``tiles.elements``) in place; returns
    the mean loss per epoch. Windows are read a batch at a time."""
    device = device or torch.device("cpu")
    element_channels = [i for i, e in enumerate(tiles.elements) if e != VALIDITY]
    if not element_channels:
        raise ValueError("masked-band pretraining needs at least one element band")
    ids = tiles.index.loc[tiles.index["tile_id"] < len(tiles.windows), "tile_id"].to_numpy(np.int64)
    ids = np.unique(ids)
    crop = int(crop or tiles.window)
    network = network.to(device)
    head = nn.Linear(network.fc.in_features, len(tiles.elements) * GRID * GRID).to(device)
    params = [p for p in network.parameters() if p.requires_grad] + list(head.parameters())
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(int(epochs), 1))
    generator = torch.Generator().manual_seed(int(seed))
    history = []
    network.train()
    for epoch in range(int(epochs)):
        order = ids[torch.randperm(len(ids), generator=generator).numpy()]
        total, count = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch_ids = order[start:start + batch_size]
            if len(batch_ids) < 2:
                break
            x = torch.from_numpy(tiles.read(np.sort(batch_ids)))
            span = x.shape[-1] - crop + 1
            offsets = torch.randint(0, max(span, 1), (len(x), 2), generator=generator)
            x = crop_batch(x, torch.arange(len(x)), crop, offsets).to(device)
            masked, hidden, target = masked_band_batch(x, element_channels, generator)
            out = head(features(network, masked)).view(len(x), len(tiles.elements), GRID * GRID)
            loss = F.mse_loss(out[torch.arange(len(x), device=device), hidden], target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(x)
            count += len(x)
        scheduler.step()
        history.append(total / max(count, 1))
        log.info("source pretraining epoch %d/%d: masked-band loss %.4f over %d windows", epoch + 1, epochs,
                 history[-1], count)
    return history
