"""A network scored on evaluation batches: the "with mines" probability of each of
its outputs, the metrics per output and of their vote, and the final metrics file
entries (the spatial test split and the paper's noise-copy protocol)."""

import numpy as np
import torch

from .device import autocast
from .metrics import classification_metrics, constant_baseline, vote


def as_list(out):
    """A network's logits as a list: SKT's model returns one per target network,
    any other network a single tensor."""
    return out if isinstance(out, (list, tuple)) else [out]


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
            logits = as_list(model(x))
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


def final_metrics(model, names, test, paper, batch_size, device, dtype, channels_last, seed):
    """{"primary": the test split as it is, "paper_protocol": balanced with noise copies drawn from
    ``seed + 2``}, each the metrics of every output and of the vote."""
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
