"""The three Table 3 networks written from their papers (SCNet, SNL, T2T-ViT-14):
shapes at the paper's and the demo's crops, parameter counts, and a planted signal
they must learn through the shared training step."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from pipeline.baselines.cnn import build_cnn, canonical_name, cnn_task
from pipeline.baselines.scnet import SCConv
from pipeline.baselines.snl import SpectralNonlocal
from pipeline.baselines.t2t_vit import first_split, token_grid
from pipeline.methods import CNNS, TABLE3_NETS
from pipeline.nets.train import train_step

NETS = TABLE3_NETS


def _count(net):
    return sum(p.numel() for p in net.parameters())


def test_the_three_are_registered_under_their_paper_names():
    assert set(NETS) <= set(CNNS)
    assert [canonical_name(n) for n in ("SCNet", "T2T-ViT-14", "SNL")] == ["scnet", "t2t_vit_14", "snl"]


@pytest.mark.parametrize("name", NETS)
def test_paper_sized_crop_gives_two_logits(name):
    torch.manual_seed(0)
    net = build_cnn(name, 5, width=0.25, crop=224).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 5, 224, 224))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("crop, window", [(20, 24), (56, 64)])
def test_smallest_and_demo_crops_and_whole_windows(name, crop, window):
    """Crops of 20 (the smallest any config uses) and 56 (the demo's); whole test windows are larger."""
    torch.manual_seed(0)
    net = build_cnn(name, 7, width=0.25, crop=crop)
    net.train()
    assert net(torch.randn(3, 7, crop, crop)).shape == (3, 2)
    net.eval()
    with torch.no_grad():
        out = net(torch.randn(2, 7, window, window))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_width_one_parameter_counts_for_three_channels():
    """The README's table: ours (3 input channels, 2 classes) beside the published networks."""
    counts = {name: _count(build_cnn(name, 3, width=1.0)) for name in NETS + ("resnet18",)}
    resnet18 = counts["resnet18"]
    assert resnet18 == 11_177_538
    # SCConv has a plain convolution's parameters where widths match; the three widening ones have 25 % fewer
    assert counts["scnet"] == 10_797_250 and counts["scnet"] < resnet18
    # SNL: ResNet-18 plus one block at 256 channels (phi, psi, g 256->128; W1, W2 128->256; BN)
    assert counts["snl"] - resnet18 == 5 * 256 * 128 + 2 * 256 == 164_352
    # T2T-ViT-14 with 1000 classes and RGB is the published 21.5M; 2 classes drop the head's 998 rows
    assert counts["t2t_vit_14"] == 21_097_704
    assert counts["t2t_vit_14"] + 998 * (384 + 1) == 21_481_934          # with ImageNet's 1000 classes


def test_width_multiplier_shrinks_them():
    for name in NETS:
        assert _count(build_cnn(name, 8, width=0.125)) < _count(build_cnn(name, 8, width=0.5)) / 8


def test_t2t_first_split_is_the_papers_at_224_and_keeps_seven_tokens_a_side_below():
    assert first_split(224) == (7, 4, 2) and token_grid(224) == 14
    assert first_split(None) == (7, 4, 2)
    assert [first_split(c)[1] for c in (112, 56, 28, 20)] == [4, 2, 1, 1]
    assert [token_grid(c) for c in (112, 56, 28, 20)] == [7, 7, 7, 5]
    # a saved model is rebuilt with its crop: the first T2T layer's width depends on it
    assert (build_cnn("t2t_vit_14", 4, 0.25, crop=56).state_dict()["t2t.layer1.norm1.weight"].shape
            == (4 * 9,))


def test_scconv_keeps_shape_and_strides():
    conv = SCConv(16, 32, stride=2)
    assert conv(torch.randn(2, 16, 9, 9)).shape == (2, 32, 5, 5)
    assert SCConv(8, 8)(torch.randn(2, 8, 1, 1)).shape == (2, 8, 1, 1)      # 1x1 maps: pooling still works


def test_snl_block_starts_as_identity_and_its_affinity_is_symmetric_and_normalised():
    torch.manual_seed(0)
    block = SpectralNonlocal(8)
    block.reset_parameters()
    x = torch.randn(2, 8, 4, 5)
    block.train()
    torch.testing.assert_close(block(x), x)
    a = block.affinity(x)
    torch.testing.assert_close(a, a.transpose(1, 2))
    # D^-1/2 A D^-1/2 has largest eigenvalue 1 (A positive)
    torch.testing.assert_close(torch.linalg.eigvalsh(a.double())[:, -1], torch.ones(2, dtype=torch.float64))


def _planted(n, size, gen):
    """Windows of 4 noisy channels; every other one has a Gaussian blob in channel 1 somewhere."""
    x = torch.randn(n, 4, size, size, generator=gen) * 0.5
    y = torch.arange(n) % 2
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for i in torch.nonzero(y).flatten():
        cy, cx = torch.randint(4, size - 4, (2,), generator=gen)
        x[i, 1] += 3.0 * torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0)
    return x, y


@pytest.fixture
def one_thread():
    """One intra-op thread: small batches on a shared 2-core machine run faster without oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name, size, epochs", [("scnet", 20, 8), ("snl", 20, 8), ("t2t_vit_14", 16, 5)])
def test_planted_signal_is_learned_by_the_shared_training_step(name, size, epochs, one_thread):
    """Trained with the baselines' training step on ``size``-pixel windows, scored on held-out
    windows 4 pixels larger. T2T-ViT gets smaller windows (its first T2T layer attends
    over every pixel of crops this small, the slow part on a CPU) and fewer epochs; the
    ResNets' batch statistics need a few more steps."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    x_train, y_train = _planted(128, size, gen)
    x_test, y_test = _planted(64, size + 4, gen)
    net = build_cnn(name, 4, width=0.25, crop=size)
    task = cnn_task(net, name)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(y_train), generator=gen)
        for start in range(0, len(order), 16):
            idx = order[start:start + 16]
            train_step(task, x_train[idx], y_train[idx], optimizer, scaler, torch.device("cpu"), None)
    net.eval()
    with torch.no_grad():
        prob = torch.softmax(net(x_test), 1)[:, 1].numpy()
    auc = roc_auc_score(y_test.numpy(), prob)
    assert auc >= 0.9, f"{name}: held-out ROC AUC {auc:.3f}"
    assert roc_auc_score(y_test.numpy(), 1 - prob) < 0.9          # an inverted score fails
    assert np.isfinite(prob).all()
