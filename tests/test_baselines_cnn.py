"""CNN baselines: torchvision networks adapted to the element channels, trained with
SKT's loop, scored on whole test windows, and mapped over the stack."""

import json

import numpy as np
import pytest
import rasterio
import torch
from torchvision import models as tvm

from pipeline.baselines.cnn import (NAMES, NOT_INCLUDED, build_cnn, cnn_task, load_cnn, predict_cnn_map,
                                    train_cnn)
from pipeline.errors import InputError
from pipeline.methods import TORCHVISION_CNNS
from pipeline.nets.synthetic import write_synthetic_survey
from pipeline.nets.train import train_step

TRAIN = {"epochs": 2, "batch_size": 16, "lr": 0.05, "momentum": 0.01, "weight_decay": 1e-4, "lr_step": 30,
         "lr_gamma": 0.5, "crop": 20, "balance": "noise", "noise_variance": 0.01, "amp": True,
         "channels_last": True}

STANDARD = {"resnet18": lambda: tvm.resnet18(weights=None, num_classes=2),
            "shufflenet_v2": lambda: tvm.shufflenet_v2_x1_0(weights=None, num_classes=2),
            "googlenet": lambda: tvm.googlenet(weights=None, num_classes=2, aux_logits=False, init_weights=True),
            "mobilenet_v2": lambda: tvm.mobilenet_v2(weights=None, num_classes=2),
            "mnasnet": lambda: tvm.mnasnet1_0(weights=None, num_classes=2),
            "efficientnet_b0": lambda: tvm.efficientnet_b0(weights=None, num_classes=2)}


def _count(net):
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_network_takes_the_element_channels_at_the_crop_and_trains_one_step(name):
    torch.manual_seed(0)
    net = build_cnn(name, 5, width=0.25)
    x, y = torch.randn(4, 5, 28, 28), torch.tensor([0, 1, 0, 1])
    net.train()
    assert net(x).shape == (4, 2)
    task = cnn_task(net, name)
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    terms = train_step(task, x, y, optimizer, scaler, torch.device("cpu"), None)
    assert np.isfinite(float(terms["loss_total"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    net.eval()
    with torch.no_grad():
        out = net(torch.randn(2, 5, 32, 32))      # whole test windows, larger than the crop
    assert out.shape == (2, 2) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", TORCHVISION_CNNS)
def test_full_width_is_the_standard_torchvision_network(name):
    adapted, standard = build_cnn(name, 3, width=1.0), STANDARD[name]()
    assert _count(adapted) == _count(standard)
    assert type(adapted) is type(standard)


def test_width_multiplier_shrinks_the_networks_that_have_one():
    for name in TORCHVISION_CNNS:           # the three written here: tests/test_table3_nets.py
        small, full = _count(build_cnn(name, 8, width=0.25)), _count(build_cnn(name, 8, width=1.0))
        assert small == full if name == "googlenet" else small < full / 3


def test_stem_takes_any_channel_count():
    net = build_cnn("efficientnet_b0", 13, width=0.5)
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 13


def test_unknown_network_is_named_and_every_table3_network_is_included():
    with pytest.raises(InputError, match="unknown CNN baseline 'vgg16'.*t2t_vit_14"):
        build_cnn("vgg16", 3)
    assert NOT_INCLUDED == {}
    assert set(TORCHVISION_CNNS) < set(NAMES) and len(NAMES) == 9


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn")
    survey = write_synthetic_survey(out, height=96, width=72, channels=3, window=24, stride=12, split_row=60,
                                    n_sites=6, seed=4)
    summary, scores = train_cnn(survey["tiles"], method="mobilenet_v2", width=0.25, train=TRAIN, seed=3,
                                device="cpu", threads=1, model_path=out / "model.pt",
                                checkpoint_path=out / "ckpt.pt", log_path=out / "log.csv", progress=False)
    return out, survey, summary, scores


def test_train_cnn_writes_a_loadable_model_and_test_scores(trained):
    out, survey, summary, scores = trained
    assert summary["finished"] and summary["epochs_done"] == 2
    index = json.loads((survey["tiles"] / "tiles.json").read_text())
    assert index["window"] == 24
    n_test = summary["test_windows"]
    assert scores["prob"].shape == (1, n_test) and scores["y"].shape == (n_test,)
    assert ((scores["prob"] >= 0) & (scores["prob"] <= 1)).all()
    assert len(scores["y_paper"]) >= n_test          # noise copies balance the classes
    model, info = load_cnn(out / "model.pt")
    assert info["method"] == "mobilenet_v2" and info["elements"] == survey["elements"] and info["window"] == 24
    assert (out / "log.csv").read_text().startswith("epoch,")


def test_train_cnn_is_deterministic_on_cpu(trained, tmp_path):
    out, survey, _, scores = trained
    _, again = train_cnn(survey["tiles"], method="mobilenet_v2", width=0.25, train=TRAIN, seed=3, device="cpu",
                         threads=1, model_path=tmp_path / "model.pt", progress=False)
    np.testing.assert_array_equal(scores["prob"], again["prob"])


def test_cnn_map_is_on_the_stack_grid_with_its_nodata(trained, tmp_path):
    out, survey, _, _ = trained
    result = predict_cnn_map(out / "model.pt", survey["stack"], tmp_path / "map.tif", overlap=0.5, batch_size=8,
                             device="cpu", threads=1)
    assert result["window"] == 24 and result["stride"] == 12
    with rasterio.open(survey["stack"]) as stack, rasterio.open(tmp_path / "map.tif") as prob:
        assert (prob.transform, prob.shape, prob.crs) == (stack.transform, stack.shape, stack.crs)
        assert prob.descriptions[0] == "mobilenet_v2_probability"
        p = prob.read(1, masked=True)
        nodata_everywhere = (stack.read_masks() == 0).all(axis=0)
        np.testing.assert_array_equal(p.mask, nodata_everywhere)
        assert 0.0 <= float(p.min()) and float(p.max()) <= 1.0
        assert prob.tags()["footprint"] == "24"
    predict_cnn_map(out / "model.pt", survey["stack"], tmp_path / "core.tif", overlap=0.5, batch_size=8,
                    device="cpu", threads=1, core=0.5)
    with rasterio.open(tmp_path / "core.tif") as prob:
        assert prob.tags()["footprint"] == "12"        # predict.core: half of the 24-cell window
