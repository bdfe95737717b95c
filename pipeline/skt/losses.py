"""SKT objective (paper eqs. 10-12): cross entropy per target network plus top-down
self-distillation between target networks."""

import torch
import torch.nn.functional as F


def distillation_losses(logits, order, temperature=1.0):
    """Eq. 10: for each target v, sum over the networks j before it in ``order``
    (larger inputs) of KL(softmax_j || softmax_v), batch mean.

    Teachers are detached, so knowledge flows only from larger-input networks to
    smaller ones. With a temperature T the softened distributions are compared and
    the loss is scaled by T^2 (Hinton et al.) so its gradient size does not depend
    on T. Returns one scalar per target, in the order of ``logits``.
    """
    t = float(temperature)
    log_p = [F.log_softmax(z.float() / t, dim=1) for z in logits]
    losses = [log_p[0].new_zeros(()) for _ in logits]
    for rank, v in enumerate(order):
        for j in order[:rank]:
            teacher = log_p[j].detach()
            losses[v] = losses[v] + F.kl_div(log_p[v], teacher, reduction="batchmean", log_target=True)
    return [loss * (t * t) for loss in losses]


def skt_loss(logits, target, order, *, beta=0.7, temperature=1.0, distillation=True):
    """Eq. 12: sum_v CE_v + beta * sum_v KD_v. Returns (total, ce list, kd list)."""
    ce = [F.cross_entropy(z.float(), target) for z in logits]
    if distillation and beta > 0 and len(logits) > 1:
        kd = distillation_losses(logits, order, temperature)
        total = torch.stack(ce).sum() + beta * torch.stack(kd).sum()
    else:
        kd = [ce[0].new_zeros(()) for _ in logits]
        total = torch.stack(ce).sum()
    return total, ce, kd
