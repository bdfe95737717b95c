"""Window size from the survey and what ResNet-18's last stage sees (pipeline.window_plan)."""

import numpy as np
import torch

from pipeline.nets.resnet import resnet18
from pipeline.window_plan import check_window, median_spacing, plan_window, resnet18_final_side, smallest_input


def test_final_side_matches_the_network():
    net = resnet18(2, 2, 4)
    layers = torch.nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3,
                                 net.layer4).eval()
    for side in (18, 28, 32, 33, 36, 48, 64, 65, 224):
        with torch.no_grad():
            assert layers(torch.zeros(1, 2, side, side)).shape[-1] == resnet18_final_side(side), side
    # the case: Katanning's 28-cell crops with dilation 5 leave 18 cells, seen as 1 x 1
    assert resnet18_final_side(28 - 2 * 5) == 1
    assert smallest_input(2) == 33


def test_median_spacing_of_a_square_lattice():
    xy = np.stack(np.meshgrid(np.arange(10) * 250.0, np.arange(8) * 250.0), -1).reshape(-1, 2)
    assert median_spacing(xy) == 250.0


def test_plan_keeps_two_by_two_and_the_spacings():
    plan = plan_window(spacing=1000.0, cell=250.0, spacings=5)
    assert plan["window"] >= 20 and plan["crop"] <= plan["window"]
    assert resnet18_final_side(plan["crop"] - 2 * max(plan["dilations"])) >= 2 and plan["final_side"] >= 2
    lines, warning = check_window(32, 28, [1, 2, 3, 4, 5], spacing=1000.0, cell=250.0)
    assert "1 x 1" in lines[0] and warning is not None and "tiles.window" in warning
    _, fine = check_window(64, 56, [1, 2, 3, 4, 6], spacing=300.0, cell=100.0)
    assert fine is None


def test_auto_settings_resolve_from_the_survey():
    from pipeline.window_plan import resolve_crop, resolve_dilations, resolve_window, resolved_tiles

    opts = {"window": "auto", "stride": "auto", "window_spacings": 5}
    # 1 km spacing on 100 m cells: 5 spacings are 50 cells, more than 2 x 2 needs
    assert resolve_window(opts, 1000.0, 100.0) == (50, 12)
    # 1 km spacing on 250 m cells: 20 cells would be 1 x 1; the plan takes 45
    window, stride = resolve_window(opts, 1000.0, 250.0)
    assert window == 45 and stride == 11
    assert resolve_window({"window": 64, "stride": 16}, 1000.0, 250.0) == (64, 16)
    assert resolve_crop("auto", 64) == 56 and resolve_crop(28, 64) == 28
    crop = resolve_crop("auto", window)
    dilations = resolve_dilations("auto", crop)
    assert dilations and all(resnet18_final_side(crop - 2 * d) >= 2 for d in dilations)
    assert resolve_dilations([1, 6], 40) == [1, 6]
    assert resolved_tiles({"window": "auto", "stride": "auto", "buffer": 1}, {"window": 45, "stride": 11}) == {
        "window": 45, "stride": 11, "buffer": 1}
