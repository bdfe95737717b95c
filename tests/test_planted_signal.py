"""Every deep model finds a planted, separable window signal.

Positive windows carry a smooth bump in one element channel, negatives only
noise; after a few seconds of training every model, SKT's vote and each of its
target networks, and every CNN baseline, must rank held-out windows at ROC AUC
>= 0.9. A model that scored the wrong class would sit near 0.1 and fail.
"""

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.baselines.cnn import train_cnn
from pipeline.evaluation.metrics import classification_metrics
from pipeline.methods import TORCHVISION_CNNS
from pipeline.nets.tileset import TileSet
from pipeline.skt.files import load_skt
from pipeline.skt.predict import window_probabilities
from pipeline.skt.train import train_skt, train_source
from pipeline.window_inputs import VALIDITY

SIZE = 24
TRAIN = {"epochs": 8, "batch_size": 16, "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4, "lr_schedule": "cosine",
         "crop": 20, "balance": "none", "noise_variance": 0.01, "amp": False, "channels_last": False}


def planted_tiles(n_train=80, n_test=40, seed=0):
    """Windows of two elements and the validity band; half hold a bump in element A."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    labels = np.arange(n) % 2
    x = rng.normal(0.0, 0.5, (n, 3, SIZE, SIZE)).astype(np.float32)
    x[:, 2] = 1.0
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for i in np.flatnonzero(labels):
        r, c = rng.integers(7, SIZE - 7, 2)
        x[i, 0] += 2.5 * np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * 3.0 ** 2))
    index = pd.DataFrame({"tile_id": np.arange(n), "row": 0, "col": 0,
                          "split": ["train"] * n_train + ["test"] * n_test, "label": labels, "n_sites": labels})
    return TileSet(windows=x, index=index, elements=["A", "B", VALIDITY], window=SIZE)


def _auc(y, p):
    return classification_metrics(y, p)["roc_auc"]


@pytest.fixture(scope="module")
def tiles():
    return planted_tiles()


def test_the_planted_set_is_separable_by_a_plain_statistic(tiles):
    x, y, _ = tiles.arrays("test")
    assert _auc(y, x[:, 0].max(axis=(1, 2))) >= 0.9
    assert _auc(y, -x[:, 0].max(axis=(1, 2))) <= 0.1     # the inverted score fails the bar


def test_skt_vote_and_every_target_find_the_planted_signal(tiles, tmp_path):
    torch.manual_seed(0)
    source = {"task": "self", "epochs": 8}
    skt = {"dilations": [1, 2, 3], "beta": 0.7, "transfer_mode": "additive", "selection_l1": 1e-4,
           "independent_crops": True}
    model = {"width": 8}
    train_source(tiles, source=source, model=model, train=TRAIN, seed=0, device="cpu", threads=1,
                 model_path=tmp_path / "source.pt", progress=False)
    train_skt(tiles, source_path=tmp_path / "source.pt", skt=skt, model=model, train=TRAIN, seed=0, device="cpu",
              threads=1, model_path=tmp_path / "skt.pt", progress=False)
    net, _ = load_skt(tmp_path / "skt.pt")
    x, y, _ = tiles.arrays("test")
    probs = window_probabilities(net, x, device=torch.device("cpu"))
    for name, p in zip(net.names, probs):
        assert _auc(y, p) >= 0.9, name
    assert _auc(y, probs.mean(axis=0)) >= 0.9


# SCNet, SNL and T2T-ViT-14 have their own planted-signal tests (tests/test_table3_nets.py)
@pytest.mark.parametrize("method", TORCHVISION_CNNS)
def test_every_cnn_finds_the_planted_signal(tiles, tmp_path, method):
    torch.manual_seed(0)
    # 16 epochs, not SKT's 8: on an AMD EPYC host, 8 left ShuffleNetV2, MnasNet and EfficientNet-b0 at
    # width 0.25 short of the bar by seed (MnasNet seeds 0-2: 0.43, 0.93, 0.70; with 16: 1.0 each)
    _, scores = train_cnn(tiles, method=method, width=0.25, train=dict(TRAIN, epochs=16), seed=0, device="cpu",
                          threads=1, model_path=tmp_path / "m.pt", progress=False)
    assert _auc(scores["y"], scores["prob"][0]) >= 0.9
