"""Positive-unlabelled roles of training windows (pipeline.pu)."""

import numpy as np
import pandas as pd
import pytest

from pipeline.grid import grid_from_settings
from pipeline.pu import UNLABELLED, apply_pu, likely_negatives, unlabelled_near_sites


@pytest.fixture
def grid():
    # 10 m cells, 100 x 100
    return grid_from_settings("EPSG:32649", (400000, 2400000, 401000, 2401000), width=100, height=100)


def _index(origins, labels, split="train"):
    rows, cols = zip(*origins)
    return pd.DataFrame({"tile_id": np.arange(len(origins)), "row": rows, "col": cols, "split": split,
                         "label": labels, "n_sites": labels})


def test_site_free_windows_near_a_site_become_unlabelled(grid):
    # a site at the centre of cell (row 15, col 15); windows of 10 cells (100 m)
    site = np.array([[400000 + 155.0, 2401000 - 155.0]])
    index = _index([(10, 10), (0, 20), (0, 26), (0, 40), (60, 60)], [1, 0, 0, 0, 0])
    index.loc[4, "split"] = "test"
    out = unlabelled_near_sites(index, grid, 10, site, buffer=75.0)
    # the site lies 155 m east and 155 m south of the corner; (0, 20)'s footprint spans x 200..300 m and
    # y 0..100 m south: hypot(45, 55) = 71 m away; (0, 26): hypot(105, 55) = 119 m; (0, 40): 250 m
    assert list(out["split"]) == ["train", UNLABELLED, "train", "train", "test"]
    assert list(index["split"]) == ["train", "train", "train", "train", "test"]   # a copy
    assert list(unlabelled_near_sites(index, grid, 10, site, buffer=0)["split"]) == list(index["split"])
    # a buffer that would leave fewer than a quarter of the negatives is not applied
    assert list(unlabelled_near_sites(index, grid, 10, site, buffer=1000.0)["split"]) == list(index["split"])


def test_likely_negatives_keep_those_least_like_the_positives():
    index = _index([(0, i) for i in range(6)], [1, 1, 0, 0, 0, 0])
    means = np.array([[1.0, 1.0], [1.2, 0.8], [1.1, 0.9], [-3.0, -3.0], [0.0, 0.0], [-1.0, -1.0]])
    out = likely_negatives(index, means, 0.5)
    # distances from the positives' mean (1.1, 0.9): window 3 and 5 are farthest
    assert list(out["split"]) == ["train", "train", UNLABELLED, "train", UNLABELLED, "train"]
    assert (out["label"] == index["label"]).all()


def test_apply_pu_defaults_to_a_quarter_window(grid):
    site = np.array([[400000 + 155.0, 2401000 - 155.0]])
    index = _index([(10, 10), (0, 19), (0, 20), (0, 50), (0, 60)], [1, 0, 0, 0, 0])
    windows = np.zeros((5, 1, 10, 10), dtype=np.float32)
    out = apply_pu(index, windows, grid, 10, site, {"unlabelled_buffer": None, "negatives": "all"})
    # a quarter window is 25 m: (0, 19) lies hypot(35, 55) = 65 m from the site, (0, 20) 71 m
    assert list(out["split"]) == ["train"] * 5
    out = apply_pu(index, windows, grid, 10, site, {"unlabelled_buffer": 68.0, "negatives": "all"})
    assert list(out["split"]) == ["train", UNLABELLED, "train", "train", "train"]
