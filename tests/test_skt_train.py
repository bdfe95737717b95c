"""Training: tiles input checks, noise-copy balancing, determinism, checkpoint resume,
logs and metrics, source element alignment."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.errors import InputError
from pipeline.evaluation.metrics import noise_copy_counts
from pipeline.nets.batches import Batches, crop_batch, dihedral, sample_plan
from pipeline.nets.synthetic import write_synthetic_survey
from pipeline.nets.tileset import WindowReader, load_tiles
from pipeline.skt import load_skt, load_source, train_skt, train_source

TRAIN = {"epochs": 3, "batch_size": 16, "lr": 0.05, "momentum": 0.01, "weight_decay": 1e-4, "lr_step": 2,
         "lr_gamma": 0.5, "crop": 20, "balance": "noise", "noise_variance": 0.01, "amp": True,
         "channels_last": True}
SKT = {"dilations": [1, 2], "soft_mask": True, "mask_init": "ones", "dilation": True, "transfer": True,
       "transfer_mode": "product", "distillation": True, "beta": 0.7, "temperature": 1.0}
MODEL = {"width": 4}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return write_synthetic_survey(tmp_path_factory.mktemp("survey"), height=96, width=72, channels=3, window=24,
                                  stride=12, split_row=60, n_sites=6, seed=4)


@pytest.fixture(scope="module")
def source_file(survey, tmp_path_factory):
    out = tmp_path_factory.mktemp("source")
    train_source(survey["tiles"], source={"epochs": 1}, model=MODEL, train=TRAIN, seed=3, device="cpu", threads=1,
                 model_path=out / "source.pt", progress=False)
    return out / "source.pt"


def _train(tiles, source, out, **kw):
    args = dict(source_path=source, skt=SKT, model=MODEL, train=TRAIN, seed=7, device="cpu", threads=1,
                model_path=out / "skt.pt", checkpoint_path=out / "ckpt.pt", log_path=out / "log.csv",
                metrics_path=out / "metrics.json", progress=False)
    args.update(kw)
    return train_skt(tiles, **args)


def _weights(path):
    model, _ = load_skt(path)
    return model.state_dict()


def test_noise_copies_reproduce_the_paper_training_set():
    # section 2.2: 78 windows with mines, 359 without -> 1092 and 1077
    counts = noise_copy_counts(78, 359, majority_copies=2)
    assert counts == {1: 13, 0: 2}
    assert 78 * (1 + counts[1]) == 1092 and 359 * (1 + counts[0]) == 1077
    assert noise_copy_counts(10, 45) == {1: 4, 0: 0}
    assert noise_copy_counts(45, 10) == {0: 4, 1: 0}
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 1])
    pos, copy = sample_plan(labels)
    assert (labels[pos] == 1).sum() == 6 and (labels[pos] == 0).sum() == 6
    assert (copy[labels[pos] == 0] == 0).all() and sorted(copy[pos == 0]) == [0, 1, 2]
    pos, copy = sample_plan(labels, "none")
    assert pos.tolist() == list(range(8)) and not copy.any()


def test_batches_crop_and_noise():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6)
    out = crop_batch(x, torch.tensor([1, 0]), 3, torch.tensor([[2, 1], [0, 3]]))
    assert torch.equal(out[0, 0], x[1, 0, 2:5, 1:4]) and torch.equal(out[1, 0], x[0, 0, 0:3, 3:6])
    assert torch.equal(crop_batch(x, torch.tensor([0]), 4)[0], x[0, :, 1:5, 1:5])
    plan = (np.array([0, 1, 1]), np.array([0, 0, 1]))
    batches = Batches(x, np.array([0, 1]), plan, crop=6, noise_std=0.1, device=torch.device("cpu"))
    (xb, yb), = batches.eval_batches(8, torch.Generator().manual_seed(0))
    assert yb.tolist() == [0, 1, 1]
    assert torch.equal(xb[0], x[0]) and torch.equal(xb[1], x[1])          # originals untouched
    noise = xb[2] - x[1]
    assert 0.05 < noise.std().item() < 0.15                               # variance 0.01


def test_flip_augmentation_gives_the_eight_symmetries():
    x = torch.arange(9, dtype=torch.float32).reshape(1, 1, 3, 3).repeat(8, 1, 1, 1)
    out = dihedral(x, torch.arange(8))
    seen = {tuple(o.flatten().tolist()) for o in out}
    expected = {tuple(torch.rot90(m, k, (0, 1)).flatten().tolist())
                for m in (x[0, 0], x[0, 0].T) for k in range(4)}
    assert seen == expected and len(seen) == 8
    assert torch.equal(out[0], x[0])
    with pytest.raises(InputError, match="augment"):
        Batches(x, np.zeros(8), sample_plan(np.zeros(8), "none"), crop=3, noise_std=0, device=torch.device("cpu"),
                augment="rotate")


def test_load_tiles_reports_bad_input(survey, tmp_path):
    tiles = load_tiles(survey["tiles"])
    assert tiles.elements == survey["elements"] and tiles.windows.shape[1:] == (3, 24, 24)
    bad = tmp_path / "tiles"
    bad.mkdir()
    for name in ("windows.npy", "tiles.json"):
        (bad / name).write_bytes((survey["tiles"] / name).read_bytes())
    index = pd.read_csv(survey["tiles"] / "index.csv")
    broken = index.copy()
    broken.loc[3, "label"] = 2
    broken.to_csv(bad / "index.csv", index=False)
    with pytest.raises(InputError, match=r"column 'label', row 5\b"):
        load_tiles(bad)
    broken = index.copy()
    broken.loc[0, "tile_id"] = 10_000
    broken.to_csv(bad / "index.csv", index=False)
    with pytest.raises(InputError, match="tile_id"):
        load_tiles(bad)
    index.drop(columns="split").to_csv(bad / "index.csv", index=False)
    with pytest.raises(InputError, match="split"):
        load_tiles(bad)
    index.to_csv(bad / "index.csv", index=False)
    np.save(bad / "windows.npy", np.zeros((3, 2, 24, 24), np.float32))
    with pytest.raises(InputError, match="windows.npy"):
        load_tiles(bad)
    (bad / "tiles.json").unlink()
    with pytest.raises(InputError, match="tiles.json"):
        load_tiles(bad)


def test_window_reader_reads_the_asked_windows_and_channels(survey):
    tiles = load_tiles(survey["tiles"])
    x, labels, ids = tiles.arrays("train", list(reversed(tiles.elements)))
    lazy, lazy_labels, lazy_ids = tiles.split_windows("train", list(reversed(tiles.elements)), max_bytes=1)
    assert isinstance(lazy, WindowReader) and lazy.shape == x.shape and len(lazy) == len(x)
    assert np.array_equal(labels, lazy_labels) and np.array_equal(ids, lazy_ids)
    positions = torch.tensor([5, 0, 5, len(x) - 1, 2])                   # unsorted, with a repeat
    assert torch.equal(lazy[positions], torch.from_numpy(x[positions.numpy()]))
    eager, _, _ = tiles.split_windows("train", None, max_bytes=None)
    assert torch.is_tensor(eager) and eager.shape[1] == len(tiles.elements)
    out = crop_batch(lazy, positions, 8, torch.tensor([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]))
    assert torch.equal(out[1], torch.from_numpy(x[0, :, 2:10, 3:11]))


def test_lazy_windows_train_the_same_weights_as_in_memory(survey, source_file, tmp_path):
    eager = _train(survey["tiles"], source_file, tmp_path / "eager", train={**TRAIN, "epochs": 2})
    lazy = _train(survey["tiles"], source_file, tmp_path / "lazy",
                  train={**TRAIN, "epochs": 2, "max_in_memory_mb": 1e-6})
    assert eager["windows_read"] == "in memory" and lazy["windows_read"] == "lazily from windows.npy"
    a, b = _weights(tmp_path / "eager" / "skt.pt"), _weights(tmp_path / "lazy" / "skt.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert eager["primary"] == lazy["primary"]


def test_training_is_deterministic_and_resume_equals_uninterrupted(survey, source_file, tmp_path):
    full = _train(survey["tiles"], source_file, tmp_path / "full")
    again = _train(survey["tiles"], source_file, tmp_path / "again")
    a, b = _weights(tmp_path / "full" / "skt.pt"), _weights(tmp_path / "again" / "skt.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert full["primary"] == again["primary"]

    cut = tmp_path / "cut"
    stopped = _train(survey["tiles"], source_file, cut, stop_after=2)
    assert not stopped["finished"] and stopped["epochs_done"] == 2
    assert not (cut / "skt.pt").exists() and (cut / "ckpt.pt").exists()
    assert len(pd.read_csv(cut / "log.csv")) == 2
    resumed = _train(survey["tiles"], source_file, cut)
    assert resumed["finished"] and resumed["epochs_done"] == 3
    c = _weights(cut / "skt.pt")
    assert all(torch.equal(a[k], c[k]) for k in a)
    assert pd.read_csv(cut / "log.csv").equals(pd.read_csv(tmp_path / "full" / "log.csv"))


def test_log_metrics_and_model_file(survey, source_file, tmp_path):
    summary = _train(survey["tiles"], source_file, tmp_path)
    log = pd.read_csv(tmp_path / "log.csv")
    assert log["epoch"].tolist() == [1, 2, 3]
    assert log["lr"].tolist() == pytest.approx([0.05, 0.05, 0.025])
    for name in ("t1_rho1", "t2_rho2"):
        assert {f"ce_{name}", f"kd_{name}", f"test_{name}_accuracy", f"test_{name}_roc_auc"} <= set(log.columns)
    assert (log["kd_t1_rho1"] == 0).all() and (log["kd_t2_rho2"] > 0).all()
    assert {"test_vote_accuracy", "test_vote_recall", "test_vote_f1", "loss_total"} <= set(log.columns)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    tiles = load_tiles(survey["tiles"])
    n_test = int((tiles.index["split"] == "test").sum())
    primary = metrics["primary"]
    assert set(primary) >= {"t1_rho1", "t2_rho2", "vote", "description", "constant_baseline_accuracy"}
    assert primary["vote"]["n"] == n_test
    assert np.array(primary["vote"]["confusion"]).sum() == n_test
    assert metrics["paper_protocol"]["vote"]["n"] > n_test        # noise copies added
    assert summary["train_samples_per_epoch"] > summary["train_windows"]
    model, info = load_skt(tmp_path / "skt.pt")
    assert model.elements == survey["elements"] and info["crop"] == TRAIN["crop"]
    assert model.names == ["t1_rho1", "t2_rho2"]


def test_changed_configuration_does_not_resume_a_stale_checkpoint(survey, source_file, tmp_path):
    _train(survey["tiles"], source_file, tmp_path, stop_after=1)
    other = _train(survey["tiles"], source_file, tmp_path, skt=dict(SKT, beta=0.2), train=dict(TRAIN, epochs=2))
    assert other["finished"]
    _train(survey["tiles"], source_file, tmp_path / "fresh", skt=dict(SKT, beta=0.2),
           train=dict(TRAIN, epochs=2))
    a, b = _weights(tmp_path / "skt.pt"), _weights(tmp_path / "fresh" / "skt.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_source_elements_are_aligned_by_name(survey, source_file, tmp_path):
    # target tiles with the elements in another order plus one the source never saw
    tiles = load_tiles(survey["tiles"])
    target = tmp_path / "target"
    target.mkdir()
    order = [2, 0, 1]
    windows = np.asarray(tiles.windows)[:, order]
    extra = np.random.default_rng(0).normal(size=windows[:, :1].shape).astype(np.float32)
    np.save(target / "windows.npy", np.concatenate([windows, extra], axis=1))
    tiles.index.to_csv(target / "index.csv", index=False)
    meta = dict(tiles.meta, elements=[tiles.elements[i] for i in order] + ["Zz"])
    (target / "tiles.json").write_text(json.dumps(meta))
    aligned = _train(target, source_file, tmp_path / "aligned", train=dict(TRAIN, epochs=1))
    assert aligned["elements"] == survey["elements"] and aligned["elements_unused"] == ["Zz"]
    reference = _train(survey["tiles"], source_file, tmp_path / "reference", train=dict(TRAIN, epochs=1))
    # same data after alignment -> same training
    assert aligned["primary"] == reference["primary"]

    # a target without one of the source's elements
    np.save(target / "windows.npy", windows[:, :2].copy())
    (target / "tiles.json").write_text(json.dumps(dict(tiles.meta, elements=[tiles.elements[i] for i in order[:2]])))
    with pytest.raises(InputError, match=repr(tiles.elements[1])):
        _train(target, source_file, tmp_path / "missing")

    network, elements, info = load_source(source_file)
    assert elements == survey["elements"] and network.in_channels == 3
    with pytest.raises(InputError, match="skt-source"):
        load_source(tmp_path / "aligned" / "skt.pt")


def test_transfer_off_needs_no_source_and_zauc_init(survey, tmp_path):
    summary = _train(survey["tiles"], None, tmp_path, skt=dict(SKT, transfer=False, mask_init="zauc"),
                     zauc={"E0": 3.0, "E1": 2.0, "E2": 1.0}, train=dict(TRAIN, epochs=1))
    assert summary["finished"] and summary["source"] is None
    with pytest.raises(InputError, match="source"):
        _train(survey["tiles"], None, tmp_path / "x")
    with pytest.raises(InputError, match="Z_AUC"):
        _train(survey["tiles"], None, tmp_path / "y", skt=dict(SKT, transfer=False, mask_init="zauc"))


def test_channels_last_only_on_cuda():
    # on the CPU the layout gave NaN outputs (Kolari); a NaN probability would become silent nodata
    import torch

    from pipeline.nets.device import channels_last_for

    assert channels_last_for(torch.device("cpu"), True) is False
    assert channels_last_for("cuda:0", True) is True and channels_last_for("cuda", False) is False
