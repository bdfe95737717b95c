"""Masked-band pretraining of the source network (pipeline.skt.pretrain)."""

import numpy as np
import pandas as pd
import torch

from pipeline.nets.resnet import resnet18
from pipeline.nets.tileset import TileSet
from pipeline.skt.pretrain import GRID, masked_band_batch, pretrain_masked_bands
from pipeline.skt.train import train_source
from pipeline.window_inputs import VALIDITY


def test_masked_band_batch_hides_one_element_and_targets_its_coarse_pattern():
    x = torch.zeros(2, 3, 8, 8)
    x[:, 0] = torch.arange(64, dtype=torch.float32).view(8, 8)   # element A: 0..63 row by row
    x[:, 1] = 5.0                                                 # element B
    x[:, 2] = 1.0                                                 # validity
    masked, hidden, target = masked_band_batch(x, [0, 1], torch.Generator().manual_seed(0))
    for i in range(2):
        k = int(hidden[i])
        assert k in (0, 1)
        assert torch.all(masked[i, k] == 0) and torch.equal(masked[i, 2], x[i, 2])
        assert torch.equal(masked[i, 1 - k], x[i, 1 - k])
        # 2 x 2 blocks of the 8 x 8 band: block (0, 0) of A holds 0, 1, 8, 9 -> 4.5
        expected = 4.5 if k == 0 else 5.0
        assert target[i, 0].item() == expected and target.shape == (2, GRID * GRID)


def _coupled_tiles(n=64, size=16, seed=0):
    """Element B is element A smoothed: B is predictable from A and vice versa."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 1, size, size)).astype(np.float32)
    a = torch.nn.functional.avg_pool2d(torch.from_numpy(a), 5, 1, 2).numpy() * 3
    x = np.concatenate([a, a, np.ones_like(a)], axis=1)
    labels = np.arange(n) % 2
    index = pd.DataFrame({"tile_id": np.arange(n), "row": 0, "col": 0, "split": "train", "label": labels,
                          "n_sites": labels})
    return TileSet(windows=x, index=index, elements=["A", "B", VALIDITY], window=size)


def test_pretraining_learns_to_predict_a_hidden_band():
    torch.manual_seed(0)
    net = resnet18(3, 2, 8)
    history = pretrain_masked_bands(net, _coupled_tiles(), epochs=6, batch_size=16, lr=0.05, seed=0)
    assert len(history) == 6 and history[-1] < 0.5 * history[0]


def test_source_task_pretrain_runs_before_the_labelled_training(tmp_path):
    tiles = _coupled_tiles()
    tiles.index.loc[48:, "split"] = "test"
    train = {"epochs": 1, "batch_size": 16, "lr": 0.05, "momentum": 0.9, "crop": 16, "balance": "none",
             "amp": False, "channels_last": False}
    summary = train_source(tiles, source={"task": "pretrain", "epochs": 1, "pretrain_epochs": 2}, model={"width": 4},
                           train=train, seed=0, device="cpu", threads=1, model_path=tmp_path / "s.pt",
                           progress=False)
    assert summary["finished"] and len(summary["pretrain_masked_band_loss"]) == 2
    assert (tmp_path / "s.pt").exists()
