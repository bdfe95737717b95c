"""How big a window the survey supports, and what a ResNet-18 sees of it.

A window should span a few sample spacings (a halo is sampled by several
samples), and after the crop and SKT's widest dilation the last ResNet-18 stage
should still see at least 2 x 2 cells; at 1 x 1 it is a global average of one
position and the spatial pattern is lost. The tiles stage logs this check.
"""

import math

import numpy as np
from scipy.spatial import cKDTree

AUTO = "auto"
#: dilations ``skt.dilations: auto`` chooses from (the CPU default's)
DILATIONS = (1, 2, 3, 4, 6)


def core_side(window, share):
    """Cells of a window's centred square that is ``share`` of its side, at least one."""
    return max(1, min(int(window), int(round(float(share) * int(window)))))


def resnet18_final_side(side):
    """Side of ResNet-18's last feature map for an input of ``side`` cells: the
    7 x 7 stride-2 stem, the 3 x 3 stride-2 pool and three stride-2 stages."""
    side = (side + 2 * 3 - 7) // 2 + 1
    for _ in range(4):
        side = (side + 2 - 3) // 2 + 1
    return max(side, 0)


def median_spacing(xy):
    """Median distance from each sample to its nearest other sample (map units)."""
    xy = np.unique(np.asarray(xy, dtype=float).reshape(-1, 2), axis=0)
    if len(xy) < 2:
        return float("nan")
    dist, _ = cKDTree(xy).query(xy, k=2)
    return float(np.median(dist[:, 1]))


def smallest_input(final_side=2):
    """Smallest input side whose last ResNet-18 feature map is ``final_side`` wide."""
    side = 1
    while resnet18_final_side(side) < final_side:
        side += 1
    return side


def plan_window(spacing, cell, spacings=5.0, dilations=(1, 2, 3, 4, 6)):
    """A window of ``spacings`` median sample spacings, or larger where 2 x 2 at
    the last stage needs it with the first three ``dilations``; its crop (7/8 of
    it) and the dilations that keep 2 x 2 after the crop. Returns a dict."""
    dilations = sorted(dilations)
    need = smallest_input(2) + 2 * dilations[min(2, len(dilations) - 1)]
    window = max(int(math.ceil(spacings * spacing / cell)), int(math.ceil(need * 8 / 7)))
    crop = window - window // 8
    kept = [d for d in dilations if resnet18_final_side(crop - 2 * d) >= 2] or [dilations[0]]
    return {"window": int(window), "crop": int(crop), "dilations": kept, "spacing": float(spacing),
            "window_spacings": window * cell / spacing if spacing else float("nan"),
            "final_side": resnet18_final_side(crop - 2 * max(kept))}


def check_window(window, crop, dilations, spacing, cell, spacings=5.0):
    """Lines for the log: what the configured window spans and what the last
    ResNet-18 stage sees; the last line is a warning (or None)."""
    side = resnet18_final_side(crop - 2 * max(dilations))
    lines = [f"median sample spacing {spacing:.0f} m = {spacing / cell:.1f} cells; the {window}-cell window spans "
             f"{window * cell / spacing:.1f} spacings; crop {crop} with dilations up to {max(dilations)} leaves "
             f"{crop - 2 * max(dilations)} cells, which ResNet-18's last stage sees as {side} x {side}"]
    warning = None
    if side < 2:
        plan = plan_window(spacing, cell, spacings, dilations)
        warning = (f"ResNet-18's last stage sees {side} x {side}: the spatial pattern is averaged away. "
                   f"{spacings:g} spacings would be tiles.window {plan['window']}, train.crop {plan['crop']}, "
                   f"skt.dilations {plan['dilations']} ({plan['final_side']} x {plan['final_side']})")
    return lines, warning


def resolve_window(tiles_opts, spacing, cell):
    """(window, stride) in cells from the tiles section: ``window: auto`` takes
    ``plan_window``'s window for ``window_spacings`` median sample spacings,
    ``stride: auto`` a quarter of the window."""
    window, stride = tiles_opts["window"], tiles_opts["stride"]
    if window == AUTO:
        if not np.isfinite(spacing) or spacing <= 0:
            raise ValueError("tiles.window: auto needs at least two samples at distinct places")
        window = plan_window(spacing, cell, float(tiles_opts.get("window_spacings", 5.0)))["window"]
    window = int(window)
    stride = max(1, window // 4) if stride == AUTO else int(stride)
    return window, min(stride, window)


def resolve_crop(crop, window):
    """``train.crop: auto``: 7/8 of the window (the random crops keep most of it)."""
    return int(window) - int(window) // 8 if crop == AUTO else int(crop)


def resolve_dilations(dilations, crop):
    """``skt.dilations: auto``: those of ``DILATIONS`` after which ResNet-18's last
    stage still sees 2 x 2 at this crop (at least the first)."""
    if dilations != AUTO:
        return [int(d) for d in dilations]
    return [d for d in DILATIONS if resnet18_final_side(int(crop) - 2 * d) >= 2] or [DILATIONS[0]]


def resolved_tiles(tiles_opts, plan):
    """The tiles section with the window and stride the fold plan resolved
    (``cv_folds`` writes them; an older plan leaves the section as it is)."""
    out = dict(tiles_opts)
    for key in ("window", "stride"):
        if key in plan:
            out[key] = int(plan[key])
    return out
