"""Weights of evidence (Bonham-Carter, Agterberg and Wright 1989; Bonham-Carter
1994, ch. 9) on binary evidence layers, one per element.

Unit cells are the grid's cells of the training area; a deposit is the cell a
training site falls in. Each element becomes a binary layer "value at or above
a threshold"; the threshold is the one, among the top shares of the training
area in ``TOP_SHARES``, whose contrast is most significant (largest
studentised contrast C / s(C)), the usual way of cutting a cumulative curve.
A layer whose best contrast is not positive is left out (its high values do
not go with the deposits). Where an element has no value the layer's weight
is 0 (missing evidence). The posterior logit is the prior logit plus the
layers' weights, so each layer's share of a cell's logit is its weight there:
an exact additive attribution.

A pattern must hold at least one deposit. A table with an empty count (every
deposit on the pattern) gives an infinite weight: 0.5 is then added to each
of its four counts (Haldane's correction), and the reported counts stay raw.
Tables without an empty count are used as they are, since the correction
would lift the contrast of a small pattern that holds no deposit.
"""

import logging

import numpy as np

from ..errors import InputError

log = logging.getLogger("pipeline.learners")

#: top shares of the training area tried as the pattern of each layer
TOP_SHARES = (0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
#: Bonham-Carter's rule of thumb: observed / predicted deposits below this suggests conditional dependence
CI_RATIO_WARN = 0.85


def weights(n_bd, n_b, n_d, n_t):
    """W+, W-, contrast, s(C) and the variances of W+ and W- of one binary
    pattern from its counts: deposits on the pattern ``n_bd``, cells of the
    pattern ``n_b``, deposits ``n_d`` and cells ``n_t``."""
    table = (n_bd, n_b - n_bd, n_d - n_bd, n_t - n_b - (n_d - n_bd))
    c = 0.5 if min(table) == 0 else 0.0   # Haldane's correction, only where a count is empty
    bd, b_nd = n_bd + c, n_b - n_bd + c
    nb_d, nb_nd = n_d - n_bd + c, n_t - n_b - (n_d - n_bd) + c
    d, nd = bd + nb_d, b_nd + nb_nd
    w_plus = np.log((bd / d) / (b_nd / nd))
    w_minus = np.log((nb_d / d) / (nb_nd / nd))
    var_plus = 1.0 / bd + 1.0 / b_nd
    var_minus = 1.0 / nb_d + 1.0 / nb_nd
    contrast = w_plus - w_minus
    s_contrast = np.sqrt(var_plus + var_minus)
    return {"w_plus": float(w_plus), "w_minus": float(w_minus), "var_plus": float(var_plus),
            "var_minus": float(var_minus), "contrast": float(contrast), "s_contrast": float(s_contrast),
            "studentised": float(contrast / s_contrast)}


def fit_layer(values, unit, deposit, top_shares=TOP_SHARES):
    """The binary layer of one element: its threshold and weights, or None when
    no threshold gives a positive contrast. ``values``: the element's grid
    (NaN where unknown); ``unit``: cells of the training area; ``deposit``:
    deposit cells (within ``unit``)."""
    known = unit & np.isfinite(values)
    v = values[known]
    d = deposit[known]
    n_t, n_d = int(v.size), int(d.sum())
    if n_d == 0 or n_t == 0:
        return None
    best = None
    for share in top_shares:
        threshold = float(np.quantile(v, 1.0 - share))
        pattern = v >= threshold
        n_b, n_bd = int(pattern.sum()), int((pattern & d).sum())
        if n_b == 0 or n_b == n_t or n_bd == 0:
            continue
        w = weights(n_bd, n_b, n_d, n_t)
        if best is None or w["studentised"] > best["studentised"]:
            best = {**w, "threshold": threshold, "top_share": float(share), "n_pattern": n_b,
                    "n_pattern_deposits": n_bd, "n_cells": n_t, "n_deposits": n_d}
    if best is None or best["contrast"] <= 0:
        return None
    return best


def fit(bands, names, unit, deposit, top_shares=TOP_SHARES):
    """Layers of every element: ``bands`` (k, rows, cols), ``names`` their
    elements, ``unit`` the training area, ``deposit`` its deposit cells.
    Returns {"prior": P(D), "n_deposits", "n_cells", "layers": {name: layer}}."""
    bands = np.asarray(bands, dtype=np.float64)
    unit = np.asarray(unit, dtype=bool)
    deposit = np.asarray(deposit, dtype=bool) & unit
    n_d, n_t = int(deposit.sum()), int(unit.sum())
    if n_d < 1:
        raise InputError("weights of evidence: no training site falls on a cell of the training area")
    layers = {}
    for name, values in zip(names, bands):
        layer = fit_layer(values, unit, deposit, top_shares)
        if layer is not None:
            layers[str(name)] = layer
    return {"prior": n_d / n_t, "n_deposits": n_d, "n_cells": n_t, "layers": layers}


def contributions(model, bands, names):
    """Each used layer's weight at every cell (k_used, rows, cols): W+ on the
    pattern, W- off it, 0 where the element is unknown; and their names."""
    bands = np.asarray(bands, dtype=np.float64)
    by_name = dict(zip(map(str, names), bands))
    used = list(model["layers"])
    out = np.zeros((len(used),) + bands.shape[1:])
    for i, name in enumerate(used):
        layer, values = model["layers"][name], by_name[name]
        known = np.isfinite(values)
        on = known & (values >= layer["threshold"])
        out[i] = np.where(on, layer["w_plus"], np.where(known, layer["w_minus"], 0.0))
    return out, used


def posterior(model, bands, names):
    """(posterior probability, its variance) at every cell. The variance is
    P^2 (1/n_D + sum of the variances of the weights that apply), the usual
    first-order approximation (Bonham-Carter 1994, eq. 9-28)."""
    bands = np.asarray(bands, dtype=np.float64)
    contrib, used = contributions(model, bands, names)
    prior = model["prior"]
    logit = np.log(prior / (1.0 - prior)) + contrib.sum(axis=0)
    prob = 1.0 / (1.0 + np.exp(-logit))
    var = np.full(prob.shape, 1.0 / model["n_deposits"])
    by_name = dict(zip(map(str, names), bands))
    for name in used:
        layer, values = model["layers"][name], by_name[name]
        known = np.isfinite(values)
        on = known & (values >= layer["threshold"])
        var += np.where(on, layer["var_plus"], np.where(known, layer["var_minus"], 0.0))
    return prob, prob ** 2 * var


def independence_check(model, prob, unit):
    """Observed training deposits against the sum of posteriors over the
    training area (the deposits the model predicts). A ratio below
    ``CI_RATIO_WARN`` means the layers are not conditionally independent
    given the deposits: the posteriors are inflated (the ranking may still hold)."""
    predicted = float(np.nansum(np.asarray(prob)[np.asarray(unit, bool)]))
    ratio = model["n_deposits"] / predicted if predicted > 0 else float("nan")
    ok = bool(np.isfinite(ratio) and ratio >= CI_RATIO_WARN)
    if not ok:
        log.warning("weights of evidence: %d training deposits against %.1f predicted (ratio %.2f < %.2f): "
                    "the evidence layers are not conditionally independent; posteriors are inflated",
                    model["n_deposits"], predicted, ratio, CI_RATIO_WARN)
    return {"observed": int(model["n_deposits"]), "predicted": predicted, "ratio": ratio, "independent": ok}
