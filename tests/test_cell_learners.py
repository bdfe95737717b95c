"""The cell learners (pipeline.learners) on small arrays whose answers are known."""

import numpy as np
import pytest

from pipeline.learners import anchored, context, wofe
from pipeline.cv.commodity import rank_map


def test_wofe_weights_match_the_hand_computed_table():
    # 100 cells, 10 deposits, a pattern of 20 cells holding 6 of them:
    # W+ = ln((6/10) / (14/90)), W- = ln((4/10) / (76/90)), s(C)^2 = 1/6 + 1/14 + 1/4 + 1/76
    w = wofe.weights(6, 20, 10, 100)
    assert w["w_plus"] == pytest.approx(1.34993, abs=1e-4)
    assert w["w_minus"] == pytest.approx(-0.74721, abs=1e-4)
    assert w["contrast"] == pytest.approx(2.09714, abs=1e-4)
    assert w["s_contrast"] == pytest.approx(0.70799, abs=1e-4)
    assert w["studentised"] == pytest.approx(2.09714 / 0.70799, rel=1e-4)
    # every deposit on the pattern: the empty count gets 0.5 added to each of the four
    # W- = ln((0.5/11) / (80.5/91))
    assert wofe.weights(10, 20, 10, 100)["w_minus"] == pytest.approx(-2.96844, abs=1e-4)


def test_wofe_picks_the_threshold_that_separates_the_deposits_and_drops_an_unrelated_layer():
    rng = np.random.default_rng(0)
    shape = (40, 50)
    informative = rng.normal(size=shape)
    unrelated = rng.normal(size=shape)
    unit = np.ones(shape, bool)
    top = informative >= np.quantile(informative, 0.9)
    deposit = np.zeros(shape, bool)
    deposit.flat[rng.choice(np.flatnonzero(top), 15, replace=False)] = True
    # the unrelated layer is low at every deposit: no threshold gives a positive contrast
    unrelated[deposit] = -5.0
    model = wofe.fit(np.stack([informative, unrelated]), ["Au", "Zn"], unit, deposit)
    assert list(model["layers"]) == ["Au"]
    # the pattern lies inside the top tenth, where the deposits are
    assert model["layers"]["Au"]["threshold"] >= np.quantile(informative, 0.9) - 1e-12
    assert model["layers"]["Au"]["contrast"] > 1.0
    prob, var = wofe.posterior(model, np.stack([informative, unrelated]), ["Au", "Zn"])
    assert prob[~top].max() < prob.max()
    assert prob[deposit].mean() > 3 * prob[~top].mean()
    assert np.all(var > 0)
    # the posterior logit is the prior logit plus the layers' contributions, exactly
    parts, used = wofe.contributions(model, np.stack([informative, unrelated]), ["Au", "Zn"])
    prior = model["prior"]
    logit = np.log(prob / (1 - prob))
    assert np.allclose(logit, np.log(prior / (1 - prior)) + parts.sum(axis=0))


def test_wofe_missing_evidence_weighs_nothing_and_the_independence_check_counts_deposits():
    shape = (20, 20)
    values = np.tile(np.linspace(0, 1, 20), (20, 1))
    deposit = np.zeros(shape, bool)
    deposit[::4, -1] = True
    values[0, 0] = np.nan
    model = wofe.fit(values[None], ["Cu"], np.ones(shape, bool), deposit)
    parts, _ = wofe.contributions(model, values[None], ["Cu"])
    assert parts[0, 0, 0] == 0.0
    prob, _ = wofe.posterior(model, values[None], ["Cu"])
    check = wofe.independence_check(model, prob, np.ones(shape, bool))
    assert check["observed"] == 5
    assert check["predicted"] == pytest.approx(float(prob.sum()))


def test_anchored_model_with_an_uninformative_band_keeps_the_reference_ranking():
    rng = np.random.default_rng(1)
    shape = (30, 30)
    reference = rng.normal(size=shape)
    area = np.ones(shape, bool)
    rank = rank_map(reference, area)
    offset = anchored.offset_of(rank)
    noise = rng.normal(size=(1,) + shape)
    positive = reference > np.quantile(reference, 0.95)
    pool = ~positive

    def score(prob, rows, cols):
        ranked = np.sort(prob[area])
        return np.searchsorted(ranked, prob[rows, cols]) / ranked.size

    held = np.argwhere(reference > np.quantile(reference, 0.97))
    inner = [(positive, pool, held[:, 0], held[:, 1])]
    penalty, means = anchored.choose_penalty(noise, offset, inner, score)
    a, b = anchored.fit(noise, offset, positive, pool, penalty=penalty)
    prob = anchored.predict(noise, offset, a, b)
    if penalty == np.inf:
        assert np.all(b == 0)
    order_ref = np.argsort(reference, axis=None, kind="stable")
    # the noise band may move a cell a little but the ranking stays the reference's
    rho = np.corrcoef(np.argsort(np.argsort(prob, axis=None)), np.argsort(np.argsort(reference, axis=None)))[0, 1]
    assert rho > 0.99
    assert means[np.inf] >= max(v for p, v in means.items() if p != np.inf) - 0.02
    # with infinite penalty the ranking is exactly the reference's
    a0, b0 = anchored.fit(noise, offset, positive, pool, penalty=np.inf)
    p0 = anchored.predict(noise, offset, a0, b0)
    assert np.array_equal(np.argsort(p0, axis=None, kind="stable"), order_ref)


def test_anchored_model_learns_a_band_the_reference_misses():
    rng = np.random.default_rng(2)
    shape = (40, 40)
    reference = rng.normal(size=shape)
    signal = rng.normal(size=shape)
    area = np.ones(shape, bool)
    offset = anchored.offset_of(rank_map(reference, area))
    positive = (signal + 0.3 * reference) > 2.0
    a, b = anchored.fit(signal[None], offset, positive, ~positive, penalty=0.01)
    assert b[0] > 0.5
    parts, base = anchored.logit_parts(signal[None], offset, a, b)
    prob = anchored.predict(signal[None], offset, a, b)
    assert np.allclose(np.log(prob / (1 - prob)), base + parts.sum(axis=0))


def test_neighbourhood_features_average_the_square_and_skip_unknown_cells():
    values = np.arange(49, dtype=float).reshape(7, 7)
    values[3, 4] = np.nan
    features, names = context.neighbourhood_features(values[None], ["Au"], radii=(1,))
    assert names == ["Au", "Au mean r1", "Au max r1", "Au gradient r1"]
    square = values[2:5, 2:5]
    assert features[1, 3, 3] == pytest.approx(np.nanmean(square))
    assert features[2, 3, 3] == pytest.approx(np.nanmax(square))
    assert np.isnan(features[0, 3, 4]) and np.isfinite(features[1, 3, 4])
    # a cell whose whole square is unknown has no mean
    empty = np.full((5, 5), np.nan)
    empty[0, 0] = 1.0
    f, _ = context.neighbourhood_features(empty[None], ["Cu"], radii=(1,))
    assert np.isnan(f[1, 4, 4]) and f[1, 1, 1] == pytest.approx(1.0)
