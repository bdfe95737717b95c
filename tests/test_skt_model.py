"""SKT network: shapes, receptive fields, where gradients flow, ablation switches."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.errors import InputError
from pipeline.nets.metrics import vote
from pipeline.nets.resnet import resnet18
from pipeline.skt.losses import distillation_losses, skt_loss
from pipeline.skt.model import DilatedInput, SKTModel, build_skt, zauc_mask_init
from pipeline.skt.transfer import TransferConv2d

ELEMENTS = ["Au", "Cu", "Ag"]
SKT = {"dilations": [1, 2, 3], "soft_mask": True, "mask_init": "ones", "dilation": True, "transfer": True,
       "transfer_mode": "product", "distillation": True, "beta": 0.7, "temperature": 1.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _source(width=4, seed=0):
    torch.manual_seed(seed)
    return resnet18(len(ELEMENTS), 2, width)


def _model(**changes):
    torch.manual_seed(1)
    return build_skt(ELEMENTS, dict(SKT, **changes), {"width": 4}, source=_source())


def _batch(n=6, size=20, seed=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, len(ELEMENTS), size, size, generator=g), torch.tensor([0, 1] * (n // 2))


@pytest.mark.parametrize("rho", [1, 2, 4, 6])
def test_dilated_input_size_and_receptive_field(rho):
    layer = DilatedInput(2, rho)
    with torch.no_grad():
        layer.weight.copy_(torch.rand(2, 1, 3, 3) + 0.5)
    x = torch.randn(1, 2, 30, 30, requires_grad=True)
    y = layer(x)
    assert y.shape == (1, 2, 30 - 2 * rho, 30 - 2 * rho)
    y[0, 1, 0, 0].backward()
    touched = torch.nonzero(x.grad[0]).tolist()
    # one channel (depthwise), the 3x3 taps spaced rho apart
    assert sorted(touched) == sorted([1, r, c] for r in (0, rho, 2 * rho) for c in (0, rho, 2 * rho))


def test_mask_folded_into_the_dilated_kernel_equals_eq_6_then_eq_7():
    model = _model()
    with torch.no_grad():
        model.mask.weight.copy_(torch.tensor([2.0, -0.5, 0.3]))
        for d in model.dilated:
            d.weight.normal_()
    x, _ = _batch()
    masked = model.mask(x)                                   # eq. 6
    for d in model.dilated:
        torch.testing.assert_close(d(x, model.mask.weight), d(masked))


def test_forward_shapes_and_distillation_order():
    model = _model(dilations=[3, 1, 2])
    x, _ = _batch()
    out = model(x)
    assert len(out) == 3 and all(z.shape == (6, 2) for z in out)
    assert model.distillation_order() == [1, 2, 0]          # largest input (rho 1) first
    assert model.names == ["t1_rho3", "t2_rho1", "t3_rho2"]
    with pytest.raises(ValueError, match="too small"):
        model(torch.randn(2, 3, 6, 6))


@pytest.mark.parametrize("mode", ["product", "additive"])
def test_untrained_target_computes_the_source_on_its_crop(mode):
    source = _source()
    model = SKTModel(ELEMENTS, [1, 2, 3], width=4, source=source, transfer_mode=mode).eval()
    source.eval()
    x, _ = _batch()
    with torch.no_grad():
        for rho, z in zip(model.dilations, model(x)):
            torch.testing.assert_close(z, source(x[..., rho:-rho, rho:-rho]), rtol=0, atol=1e-6)


def test_effective_kernels_have_the_worked_out_values():
    # a 1 x 2 x 1 x 1 kernel: source (2, -1), selection P (0.5, 3), target w_t (4, 2)
    src = nn.Conv2d(2, 1, 1, bias=False)
    with torch.no_grad():
        src.weight.copy_(torch.tensor([2.0, -1.0]).view(1, 2, 1, 1))
    expected = {"product": [4.0, -6.0],     # (2 * 0.5) * 4, (-1 * 3) * 2
                "additive": [5.0, -1.0]}    # 2 * 0.5 + 4, -1 * 3 + 2
    for mode, values in expected.items():
        conv = TransferConv2d(2, 1, 1, mode=mode)
        conv.bind(src)
        with torch.no_grad():
            conv.selection.copy_(torch.tensor([0.5, 3.0]).view(1, 2, 1, 1))
            conv.weight.copy_(torch.tensor([4.0, 2.0]).view(1, 2, 1, 1))
        assert conv.effective_weight().flatten().tolist() == values
        # the convolution uses that kernel: input (1, 1) at one pixel gives the kernel's sum
        assert conv(torch.ones(1, 2, 1, 1)).item() == pytest.approx(sum(values))
    with pytest.raises(ValueError, match="does not match"):
        TransferConv2d(2, 4, 3).bind(nn.Conv2d(2, 3, 3, bias=False))


def test_gradients_reach_selection_and_target_kernels_not_source():
    model = _model()
    source_before = {k: v.clone() for k, v in model.source.state_dict().items()}
    x, y = _batch()
    total, _, _ = skt_loss(model(x), y, model.distillation_order(), beta=0.7)
    total.backward()
    convs = [m for m in model.targets.modules() if isinstance(m, TransferConv2d)]
    assert len(convs) == 3 * 20                  # 20 convolutions per ResNet-18 (incl. 3 downsample)
    assert all(c.selection.grad is not None and c.selection.grad.abs().sum() > 0 for c in convs)
    assert all(c.weight.grad is not None and c.weight.grad.abs().sum() > 0 for c in convs)
    assert model.mask.weight.grad.abs().sum() > 0
    assert all(d.weight.grad.abs().sum() > 0 for d in model.dilated)
    assert all(not p.requires_grad and p.grad is None for p in model.source.parameters())
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    opt.step()
    for k, v in model.source.state_dict().items():
        assert torch.equal(v, source_before[k]), k
    # the source's weights are stored once, not once per target network
    assert sum(k.startswith("source.") and k.endswith("conv1.weight") for k in model.state_dict()) == 1 + 8


def test_distillation_flows_only_from_teacher_to_student():
    logits = [torch.randn(5, 2, requires_grad=True) for _ in range(3)]
    order = [2, 0, 1]                        # network 2 has the largest input, 1 the smallest
    kd = distillation_losses(logits, order)
    assert kd[2].item() == 0.0               # the top network has no teacher
    kd[1].backward(retain_graph=True)       # student 1 learns from 2 and 0 ...
    assert logits[1].grad.abs().sum() > 0
    assert logits[0].grad is None and logits[2].grad is None   # ... which get nothing back
    kd[0].backward()
    assert logits[2].grad is None
    # KL of identical distributions is zero
    same = [torch.tensor([[1.0, -1.0]])] * 2
    assert distillation_losses(same, [0, 1])[1].item() == pytest.approx(0.0, abs=1e-7)


def test_distillation_in_the_model_leaves_the_top_network_untouched():
    model = _model()
    x, _ = _batch()
    kd = distillation_losses(model(x), model.distillation_order())
    torch.stack(kd).sum().backward()
    top = model.targets[model.distillation_order()[0]]
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in top.parameters())
    low = model.targets[model.distillation_order()[-1]]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in low.parameters())


# two networks: N_0 (larger input) gives p = (1/2, 1/2), N_1 gives p = (3/4, 1/4); the label is 0
HAND_LOGITS = [torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]])]
CE = [math.log(2.0), -math.log(0.75)]
KL_TEACHER_STUDENT = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)   # KL(p_0 || p_1) = 0.143841
KL_SWAPPED = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)           # KL(p_1 || p_0) = 0.130812


def test_total_loss_is_eq_12_on_worked_out_values():
    y = torch.tensor([0])
    total, ce, kd = skt_loss(HAND_LOGITS, y, [0, 1], beta=0.7)
    assert [c.item() for c in ce] == pytest.approx(CE, abs=1e-6)
    assert total.item() == pytest.approx(CE[0] + CE[1] + 0.7 * KL_TEACHER_STUDENT, abs=1e-6)   # 1.081517
    off, _, kd_off = skt_loss(HAND_LOGITS, y, [0, 1], beta=0.7, distillation=False)
    assert off.item() == pytest.approx(CE[0] + CE[1], abs=1e-6)
    assert all(k.item() == 0 for k in kd_off)


def test_distillation_is_eq_10_in_its_direction():
    """KL(teacher || student), the teacher the larger-input network and detached:
    swapping the KL's arguments, or teacher and student, gives other values."""
    kd = distillation_losses(HAND_LOGITS, [0, 1])
    assert kd[0].item() == 0.0
    assert kd[1].item() == pytest.approx(KL_TEACHER_STUDENT, abs=1e-6)
    assert abs(KL_TEACHER_STUDENT - KL_SWAPPED) > 0.01
    # N_1 as the teacher (order reversed): N_0 is now the student of KL(p_1 || p_0)
    reversed_kd = distillation_losses(HAND_LOGITS, [1, 0])
    assert reversed_kd[1].item() == 0.0 and reversed_kd[0].item() == pytest.approx(KL_SWAPPED, abs=1e-6)
    # with a temperature T both are softened and the loss is scaled by T^2
    t = 2.0
    p0, p1 = np.array([0.5, 0.5]), np.array([3 ** 0.5, 1.0]) / (3 ** 0.5 + 1)
    soft = float(np.sum(p0 * np.log(p0 / p1))) * t * t
    assert distillation_losses(HAND_LOGITS, [0, 1], temperature=t)[1].item() == pytest.approx(soft, abs=1e-6)
    # the teacher gets no gradient, the student does
    logits = [z.clone().requires_grad_(True) for z in HAND_LOGITS]
    distillation_losses(logits, [0, 1])[1].backward()
    assert logits[0].grad is None and logits[1].grad.abs().sum() > 0


def test_each_part_can_be_switched_off():
    x, _ = _batch()
    base = _model().eval()
    with torch.no_grad():
        base.mask.weight.copy_(torch.tensor([2.0, 0.5, 1.0]))
        ref = base(x)

    no_mask = _model(soft_mask=False).eval()
    assert no_mask.mask is None and "mask.weight" not in no_mask.state_dict()
    no_mask.load_state_dict({k: v for k, v in base.state_dict().items() if k != "mask.weight"})
    with torch.no_grad():
        assert not torch.allclose(no_mask(x)[0], ref[0])

    no_dilation = _model(dilation=False)
    assert no_dilation.dilations == [1, 1, 1]
    assert [d.output_size(20) for d in no_dilation.dilated] == [18, 18, 18]

    scratch = _model(transfer=False)
    assert scratch.source is None
    assert not any(isinstance(m, TransferConv2d) for m in scratch.modules())
    assert any(isinstance(m, nn.Conv2d) for m in scratch.targets.modules())
    with torch.no_grad():
        assert not torch.allclose(scratch.eval()(x)[0], _model().eval()(x)[0])

    with pytest.raises(ValueError, match="source"):
        build_skt(ELEMENTS, SKT, {"width": 4}, source=None)


def test_zauc_mask_initialisation():
    values = zauc_mask_init(["Au", "Cu"], {"Au": 3.0, "Cu": 1.0, "Pb": 9.0})
    np.testing.assert_allclose(values, [1.5, 0.5])
    model = build_skt(ELEMENTS, dict(SKT, mask_init="zauc"), {"width": 4}, source=_source(),
                      zauc={"Au": 2.0, "Cu": 4.0, "Ag": 6.0})
    np.testing.assert_allclose(model.mask.weight.detach().numpy(), [0.5, 1.0, 1.5])
    with pytest.raises(InputError, match="Ag"):
        zauc_mask_init(ELEMENTS, {"Au": 2.0, "Cu": 4.0})
    with pytest.raises(InputError, match="no screening"):
        zauc_mask_init(ELEMENTS, None)


def test_vote_majority_and_tie_break():
    p = np.array([[0.9, 0.2, 0.6, 0.45],
                  [0.8, 0.3, 0.4, 0.45],
                  [0.1, 0.6, 0.9, 0.2]])
    classes, mean = vote(p)
    assert classes.tolist() == [1, 0, 1, 0]
    np.testing.assert_allclose(mean, p.mean(axis=0))
    # two networks disagree: the mean probability decides
    classes, _ = vote(np.array([[0.9, 0.6], [0.2, 0.3]]))
    assert classes.tolist() == [1, 0]


@pytest.mark.parametrize("mode", ["product", "additive"])
def test_tiny_model_overfits_a_tiny_batch(mode):
    torch.manual_seed(0)
    model = build_skt(ELEMENTS, dict(SKT, transfer_mode=mode, dilations=[1, 2]), {"width": 4},
                      source=_source())
    x, y = _batch(n=8, size=16)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9)
    first = None
    for _ in range(60):
        opt.zero_grad()
        total, _, _ = skt_loss(model(x), y, model.distillation_order(), beta=0.7)
        total.backward()
        opt.step()
        first = total.item() if first is None else first
    model.eval()
    with torch.no_grad():
        probs = np.stack([torch.softmax(z, 1)[:, 1].numpy() for z in model(x)])
    classes, _ = vote(probs)
    assert total.item() < 0.2 * first
    assert (classes == y.numpy()).all()
