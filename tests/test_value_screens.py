"""The value screens on small arrays (pipeline.value_screens)."""

import numpy as np

from pipeline.value_screens import _quantile_without, duplicate_conflicts, gross_outliers, guess_codes


def test_the_quantile_without_a_block_matches_numpy():
    rng = np.random.default_rng(0)
    for _ in range(200):
        v = np.sort(rng.integers(0, 30, rng.integers(12, 60)).astype(float))
        distinct, starts, counts = np.unique(v, return_index=True, return_counts=True)
        i = rng.integers(len(distinct))
        others = v[v != distinct[i]]
        if others.size:
            assert abs(_quantile_without(v, starts[i], counts[i], 0.99) - np.quantile(others, 0.99)) < 1e-9


def test_a_repeated_far_value_is_a_code_and_a_single_one_is_not():
    values = np.r_[np.linspace(1, 50, 200), [99999.0] * 3, [77777.0]]
    hits, report = guess_codes(values, np.ones(values.size, bool))
    assert sorted(hits) == [200, 201, 202] and report[0]["value"] == 99999.0 and report[0]["rows"] == 3


def test_an_outlier_needs_both_the_z_and_the_gap():
    rng = np.random.default_rng(1)
    values = 10 ** rng.normal(1.0, 0.3, 500)
    typo = values.copy()
    typo[7] = values.max() * 100
    pos, kept_max, report = gross_outliers(typo, np.ones(typo.size, bool))
    assert list(pos) == [7] and kept_max == values.max() and report[0]["times_largest_kept"] >= 10
    near = values.copy()
    near[7] = values.max() * 5          # far in z, but not 10 x the next value
    assert len(gross_outliers(near, np.ones(near.size, bool))[0]) == 0


def test_conflicting_repeats_beyond_the_tolerance():
    ids = np.array([0, 0, 1, 1, 2])
    values = np.array([1.0, 1.2, 1.0, 3.0, 5.0])
    assert duplicate_conflicts(ids, values, tolerance=0.5) == {1: (1.0, 3.0, 2)}
