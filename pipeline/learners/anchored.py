"""A reference-anchored learner: the reference map a geologist already holds,
plus a correction learnt from the training sites that shrinks to nothing
when they do not support it.

The model is a logistic regression whose offset is the logit of the
reference's rank in the area (fixed coefficient 1) and whose coefficients on
the element bands carry a ridge penalty:

    logit p = a + logit(rank(reference)) + x . b,    loss + penalty * |b|^2

With b = 0 the map ranks the cells exactly as the reference does. The
penalty is chosen by inner leave-one-cluster-out folds over the training
sites' clusters alone, among ``PENALTIES`` and "infinite" (the reference
unchanged, tried first so that ties keep it): a correction enters only when
it ranks inner held-out sites higher than the reference does. The logit is
the sum of the offset, the intercept and each band's x_j b_j: an exact
additive attribution.
"""

import numpy as np
from scipy.optimize import minimize

from ..errors import InputError

#: ridge penalties tried by the inner folds (per unit of mean weighted log-loss), besides infinity
PENALTIES = (10.0, 1.0, 0.1, 0.01)
#: ranks clipped away from 0 and 1 before the logit
RANK_EPS = 1e-4


def offset_of(rank):
    """Logit of a rank map in (0, 1]; NaN stays NaN."""
    r = np.clip(np.asarray(rank, dtype=np.float64), RANK_EPS, 1.0 - RANK_EPS)
    return np.log(r / (1.0 - r))


def fit_offset_logistic(x, y, offset, weight, penalty):
    """(intercept, coefficients) minimising the weighted mean log-loss plus
    ``penalty`` |b|^2 (intercept unpenalised); ``penalty`` inf gives b = 0."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    w = w / w.sum()
    k = x.shape[1]
    free = np.isfinite(penalty)

    def loss(theta):
        a, b = theta[0], (theta[1:] if free else np.zeros(k))
        z = a + offset + x @ b
        # log(1 + e^z) - y z, stable for large |z|
        value = np.sum(w * (np.logaddexp(0.0, z) - y * z))
        p = 1.0 / (1.0 + np.exp(-z))
        g = w * (p - y)
        grad = [g.sum()]
        if free:
            value += penalty * float(b @ b)
            grad = np.r_[grad, x.T @ g + 2.0 * penalty * b]
        return value, np.asarray(grad, dtype=np.float64)

    theta0 = np.zeros(1 + (k if free else 0))
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B")
    return float(result.x[0]), (result.x[1:] if free else np.zeros(k))


def logit_parts(bands, offset, intercept, coef):
    """Each band's x_j b_j at every cell (k, rows, cols), unknown values at 0
    (the z-scored mean), and the offset plus intercept (rows, cols)."""
    x = np.nan_to_num(np.asarray(bands, dtype=np.float64), nan=0.0)
    return x * np.asarray(coef)[:, None, None], np.asarray(offset) + intercept


def predict(bands, offset, intercept, coef):
    """Probability at every cell; NaN where the offset is NaN."""
    parts, base = logit_parts(bands, offset, intercept, coef)
    z = base + parts.sum(axis=0)
    return 1.0 / (1.0 + np.exp(-z))


def training_samples(positive, negative_pool, *, max_negatives, rng):
    """Flat indices of the positive cells and of a random sample of the negative
    pool, and their weights (each class weighs half)."""
    pos = np.flatnonzero(positive)
    neg = np.flatnonzero(negative_pool)
    if pos.size == 0 or neg.size < 2:
        raise InputError(f"anchored logistic: {pos.size} positive and {neg.size} negative training cells; "
                         "need at least 1 and 2")
    if neg.size > max_negatives:
        neg = np.sort(rng.choice(neg, max_negatives, replace=False))
    idx = np.r_[pos, neg]
    y = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    w = np.r_[np.full(pos.size, 0.5 / pos.size), np.full(neg.size, 0.5 / neg.size)]
    return idx, y, w


def fit(bands, offset, positive, negative_pool, *, max_negatives=20000, penalty=np.inf, seed=0):
    """Intercept and coefficients of one fit on the cells of two masks."""
    rng = np.random.default_rng(seed)
    idx, y, w = training_samples(positive, negative_pool, max_negatives=max_negatives, rng=rng)
    k = bands.shape[0]
    x = np.nan_to_num(np.asarray(bands, dtype=np.float64).reshape(k, -1)[:, idx].T, nan=0.0)
    return fit_offset_logistic(x, y, np.asarray(offset).reshape(-1)[idx], w, penalty)


def choose_penalty(bands, offset, inner_folds, score, *, penalties=PENALTIES, max_negatives=20000, seed=0):
    """The penalty whose inner held-out sites score highest (mean of ``score``),
    infinity first so that a tie keeps the reference. ``inner_folds``: list of
    (positive mask, negative-pool mask, held-out rows, held-out cols);
    ``score(prob, rows, cols)``: the held-out sites' scores. Returns
    (penalty, {penalty: mean inner score})."""
    candidates = (np.inf,) + tuple(float(p) for p in penalties)
    means = {}
    for penalty in candidates:
        scores = []
        for positive, pool, rows, cols in inner_folds:
            a, b = fit(bands, offset, positive, pool, max_negatives=max_negatives, penalty=penalty, seed=seed)
            scores.extend(score(predict(bands, offset, a, b), rows, cols))
        means[penalty] = float(np.mean(scores)) if scores else float("nan")
    finite = {p: m for p, m in means.items() if np.isfinite(m)}
    if not finite:
        return np.inf, means
    best = max(finite.values())
    return next(p for p in candidates if finite.get(p) == best), means
