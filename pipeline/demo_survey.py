"""Synthetic stream-sediment survey for the built-in demo.

The survey imitates the paper's Pangxidong data (Table 1 layout, about
1700 km2 at about 4 samples per km2, UTM zone 49N) and the trouble real lab
files give: log-normal backgrounds that change with the rock type, haloes that
are elongated, irregular and smeared downstream, sites without a signature,
haloes without a site, detection-limit codes, missing-value codes, field
duplicates and a few rows with broken coordinates.

Stream sediment is a sample of what lies upstream, so concentrations are
built on a synthetic drainage network: each cell holds a rock value, and a
sample gets the decayed average of the cells that drain to it.

The generator also writes the answer: ``truth.tif``, the footprint of every
mineral system that holds a site (blind ones included, barren haloes not), on
the generator's 200 m grid. A map is judged against it by how well it ranks the
cells above the truth's 90th percentile (``pipeline.evaluation.truth``). At
least ``MIN_SOUTH_SITES`` sites lie in the southern fifth of the survey, so the
demo's test part (the lower quarter of the grid) holds enough of them.

Regenerate the committed files with
``python -m pipeline.demo_survey --out data/demo --seed 20220831``.
"""

import argparse
import heapq
import string
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.atomic import atomic_path

DEFAULT_SEED = 20220831
CRS = "EPSG:32649"  # WGS 84 / UTM zone 49N
ELEMENTS = ("Au", "B", "Sn", "Cu", "Ag", "Ba", "Mn", "Pb", "Zn", "As", "Sb", "Bi", "Hg", "Mo", "W", "F")
UNITS = {e: ("ppb" if e in ("Au", "Hg") else "ppm") for e in ELEMENTS}
SITE_TYPES = ("Mine", "Deposit", "Prospect", "Occurrence")
#: sites placed in the southern fifth of the survey before the rest
MIN_SOUTH_SITES = 12
SOUTH_SHARE = 0.2

# Frame of the synthetic area (m); the survey polygon sits inside it.
_EXTENT = (400000.0, 2390000.0, 460000.0, 2440000.0)
_CELL = 200.0

# Per element: detection limit, reported decimals, background sigma (ln units),
# sample noise sigma (ln units), halo breadth exponent (<1 = broader halo).
_ELEMENT_TABLE = {
    "Au": (0.3, 2, 0.45, 0.35, 1.0),
    "B": (2.0, 0, 0.55, 0.25, 1.0),
    "Sn": (0.5, 2, 0.40, 0.25, 0.9),
    "Cu": (1.0, 0, 0.45, 0.25, 0.9),
    "Ag": (0.02, 3, 0.35, 0.30, 0.8),
    "Ba": (10.0, 0, 0.65, 0.30, 0.5),
    "Mn": (10.0, 0, 0.40, 0.25, 1.0),
    "Pb": (2.0, 0, 0.40, 0.25, 0.8),
    "Zn": (4.0, 0, 0.35, 0.20, 0.8),
    "As": (0.5, 2, 0.55, 0.30, 0.7),
    "Sb": (0.05, 2, 0.35, 0.25, 0.7),
    "Bi": (0.05, 2, 0.50, 0.30, 1.2),
    "Hg": (5.0, 0, 0.35, 0.30, 0.5),
    "Mo": (0.2, 2, 0.45, 0.25, 1.0),
    "W": (0.2, 2, 0.50, 0.30, 1.0),
    "F": (50.0, 0, 0.30, 0.20, 1.0),
}

# Background medians per lithological domain, in the units of UNITS.
_LITHOLOGIES = ("granite", "migmatite", "clastic sediments", "carbonate")
_BACKGROUND = {
    #        granite migmatite clastic carbonate
    "Au": (0.7, 0.9, 1.1, 0.8),
    "B": (14.0, 16.0, 22.0, 16.0),
    "Sn": (5.0, 3.0, 2.5, 1.5),
    "Cu": (5.0, 14.0, 12.0, 8.0),
    "Ag": (0.06, 0.07, 0.06, 0.08),
    "Ba": (300.0, 420.0, 250.0, 90.0),
    "Mn": (360.0, 450.0, 420.0, 520.0),
    "Pb": (40.0, 30.0, 25.0, 20.0),
    "Zn": (30.0, 60.0, 50.0, 40.0),
    "As": (1.5, 3.0, 5.0, 3.5),
    "Sb": (0.35, 0.40, 0.55, 0.50),
    "Bi": (0.50, 0.25, 0.30, 0.15),
    "Hg": (30.0, 40.0, 60.0, 50.0),
    "Mo": (1.5, 0.9, 0.8, 0.6),
    "W": (3.0, 1.2, 1.5, 0.8),
    "F": (380.0, 320.0, 340.0, 300.0),
}
_LITHOLOGY_WEIGHTS = (0.25, 0.2, 0.35, 0.2)

# Element associations of the three deposit styles: relative halo amplitude.
# Elements not listed are slightly diluted in haloes (silica and sulphide add mass).
_ASSOCIATIONS = {
    "Au-Ag": {"Au": 1.0, "Ag": 0.7, "As": 0.9, "Sb": 0.8, "Hg": 0.6, "Pb": 0.15, "Cu": 0.1},
    "Cu-Mo-W": {"Cu": 0.8, "Mo": 0.9, "W": 0.9, "Sn": 0.7, "Bi": 0.8, "Ag": 0.25, "Au": 0.3},
    "Pb-Zn": {"Pb": 0.9, "Zn": 0.8, "Ag": 0.7, "Ba": 0.6, "Sb": 0.25, "Hg": 0.25, "Cu": 0.2, "Au": 0.2},
}
_COMMODITIES = {
    "Au-Ag": ("Au", "Au-Ag", "Au-Ag", "Ag-Au"),
    "Cu-Mo-W": ("Cu-Mo", "Cu-Mo-W", "W-Sn", "W-Mo", "Sn-W-Bi"),
    "Pb-Zn": ("Pb-Zn", "Pb-Zn-Ag", "Ag-Pb-Zn", "Pb-Zn-Ba"),
}
_DILUTION = -0.03
# Largest ln enrichment of a rock cell over its background (a factor of about 250).
_MAX_ENRICHMENT = 5.5
# Range of halo strength (peak ln enrichment of the main element) by site type;
# None is a halo without a site.
_STRENGTH = {
    "Mine": (2.0, 3.6),
    "Deposit": (1.8, 3.4),
    "Prospect": (1.2, 2.8),
    "Occurrence": (0.7, 2.0),
    None: (1.0, 3.0),
}
# Elements whose background varies mostly at short range (grain size, weathering)
# and little between rock types: they carry almost no information about sites.
_SHORT_RANGE = ("B", "Mn", "F")


def generate_survey(seed=DEFAULT_SEED, *, area_km2=1700.0, density=4.27):
    """Return ``(samples, sites)`` for one seed; the same seed gives identical frames.

    ``samples`` is the raw lab table exactly as written to CSV: columns X, Y
    and ELEMENTS, every cell a string (codes and blanks included). ``sites``
    has X, Y (integer metres, CRS), name, commodity and site_type.
    """
    samples, sites, _ = generate_survey_with_truth(seed, area_km2=area_km2, density=density)
    return samples, sites


def generate_survey_with_truth(seed=DEFAULT_SEED, *, area_km2=1700.0, density=4.27):
    """``(samples, sites, truth)``: ``truth`` is the (rows, cols) float32 deposit
    footprint on the generator's grid (see ``truth_grid``), 1 at a deposit's core."""
    rng = np.random.default_rng(seed)
    shape = (round((_EXTENT[3] - _EXTENT[1]) / _CELL), round((_EXTENT[2] - _EXTENT[0]) / _CELL))
    xs, ys = _cell_centres(shape)
    mask = _survey_mask(rng, xs, ys, area_km2)
    lithology = _lithology(rng, xs, ys)
    receiver, depth = _drainage(_elevation(rng, shape))
    faults = _faults(rng, mask, xs, ys)
    systems = _mineral_systems(rng, faults, mask)
    log_rock = _rock_log_concentrations(rng, shape, lithology, systems, xs, ys)
    # sediment mixes mass, so concentrations (not logs) are averaged
    load, weight = _upstream_sums(np.exp(log_rock), receiver, depth, decay=0.88)
    stream = load / weight[:, None]
    _, area = _upstream_sums(np.zeros((mask.size, 0)), receiver, depth, decay=1.0)
    cells = _sample_cells(rng, mask, area, round(area_km2 * density))
    samples = _samples_table(rng, cells, stream, xs, ys)
    sites = _sites_table(rng, systems)
    return samples, sites, _truth_field(systems, xs, ys)


def truth_grid():
    """The generator's grid as a GridSpec (EPSG:32649, 200 m cells)."""
    from pipeline.grid import GridSpec
    from affine import Affine

    shape = (round((_EXTENT[3] - _EXTENT[1]) / _CELL), round((_EXTENT[2] - _EXTENT[0]) / _CELL))
    return GridSpec(CRS, Affine(_CELL, 0.0, _EXTENT[0], 0.0, -_CELL, _EXTENT[3]), shape[1], shape[0])


def write_survey(out_dir, seed=DEFAULT_SEED):
    """Write ``samples.csv``, ``sites.csv`` and ``truth.tif`` under ``out_dir``; return the paths."""
    from pipeline.rasters import write_geotiff

    out_dir = Path(out_dir)
    samples, sites, truth = generate_survey_with_truth(seed)
    paths = (out_dir / "samples.csv", out_dir / "sites.csv", out_dir / "truth.tif")
    for frame, path in zip((samples, sites), paths):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False, lineterminator="\n")
    write_geotiff(paths[2], truth, truth_grid(), ["deposit_footprint"],
                  tags={"what": "footprint of every synthetic mineral system that holds a site (blind ones "
                                "included, barren haloes not); 1 at a deposit's core", "seed": seed})
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the synthetic demo stream-sediment survey.")
    parser.add_argument("--out", default="data/demo", help="output folder (default: data/demo)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    paths = write_survey(args.out, args.seed)
    print(f"wrote {', '.join(str(p) for p in paths)} (seed {args.seed}, {CRS})")


# ---------------------------------------------------------------- landscape


def _cell_centres(shape):
    cols = _EXTENT[0] + (np.arange(shape[1]) + 0.5) * _CELL
    rows = _EXTENT[3] - (np.arange(shape[0]) + 0.5) * _CELL
    xs, ys = np.meshgrid(cols, rows)
    return xs, ys


def _smooth_field(rng, shape, length, stretch=1.0, azimuth=45.0):
    """Unit-variance Gaussian random field with correlation ``length`` (m).

    ``stretch`` > 1 lengthens it along ``azimuth`` (degrees from north), which
    gives the NE structural grain of the area.
    """
    pad = int(np.ceil(3 * length * stretch / _CELL))
    h, w = shape[0] + 2 * pad, shape[1] + 2 * pad
    noise = rng.standard_normal((h, w))
    ky = np.fft.fftfreq(h, d=_CELL)[:, None] * 2 * np.pi
    kx = np.fft.rfftfreq(w, d=_CELL)[None, :] * 2 * np.pi
    a = np.radians(azimuth)
    # rows run southwards, hence -ky for the northward component
    k_along = kx * np.sin(a) - ky * np.cos(a)
    k_across = kx * np.cos(a) + ky * np.sin(a)
    kernel = np.exp(-0.5 * ((k_along * length * stretch) ** 2 + (k_across * length) ** 2))
    field = np.fft.irfft2(np.fft.rfft2(noise) * kernel, s=(h, w))[pad:-pad, pad:-pad]
    return (field - field.mean()) / field.std()


def _survey_mask(rng, xs, ys, area_km2):
    """Irregular survey outline (a wobbly super-ellipse) of about ``area_km2``."""
    cx, cy = 430000.0 + rng.uniform(-1500, 1500), 2415000.0 + rng.uniform(-1500, 1500)
    theta = np.arctan2(ys - cy, xs - cx)
    wobble = 1 + 0.04 * _smooth_field(rng, xs.shape, 2500)
    for k in range(2, 8):
        wobble += rng.normal(0, 0.09 / k**0.5) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    # solve for the scale that gives the wanted area on this grid
    p = 3.0
    radius = (np.abs((xs - cx) / 1.2) ** p + np.abs(ys - cy) ** p) ** (1 / p) / wobble
    target_cells = area_km2 * 1e6 / _CELL**2
    limit = np.sort(radius, axis=None)[int(target_cells)]
    return radius < limit


def _lithology(rng, xs, ys):
    """Domain index per cell: warped, NE-elongated Voronoi cells of four rock types."""
    n = 18
    seeds_x = rng.uniform(_EXTENT[0], _EXTENT[2], n)
    seeds_y = rng.uniform(_EXTENT[1], _EXTENT[3], n)
    kinds = rng.choice(len(_LITHOLOGIES), size=n, p=_LITHOLOGY_WEIGHTS)
    kinds[: len(_LITHOLOGIES)] = rng.permutation(len(_LITHOLOGIES))  # every rock type occurs
    wx = xs + 3500 * _smooth_field(rng, xs.shape, 5000)
    wy = ys + 3500 * _smooth_field(rng, xs.shape, 5000)
    a = np.radians(45.0)
    best = np.full(xs.shape, np.inf)
    out = np.zeros(xs.shape, dtype=np.int64)
    for sx, sy, kind in zip(seeds_x, seeds_y, kinds):
        dx, dy = wx - sx, wy - sy
        along = dx * np.sin(a) + dy * np.cos(a)
        across = dx * np.cos(a) - dy * np.sin(a)
        d = (along / 1.8) ** 2 + across**2
        closer = d < best
        best[closer] = d[closer]
        out[closer] = kind
    return out


def _elevation(rng, shape):
    """Hilly terrain (m) with NE-trending valleys and a gentle fall to the south-west."""
    rows, cols = np.indices(shape)
    tilt = 0.4 * (cols + (shape[0] - rows)) * _CELL / 1000.0
    return (
        250 * _smooth_field(rng, shape, 7000)
        + 90 * _smooth_field(rng, shape, 2000, stretch=2.5)
        + 30 * _smooth_field(rng, shape, 600)
        + 12 * _smooth_field(rng, shape, 250)
        + tilt
    )


def _drainage(elev):
    """Flow receiver and distance-to-outlet (cells) by priority flood from the frame edge.

    Cells leave the queue lowest first and drain to the neighbour that reached
    them, so a pit drains over its lowest rim as if breached: every cell reaches
    the edge and the receivers form a forest without cycles.
    """
    h, w = elev.shape
    z = elev.ravel().tolist()
    n = h * w
    receiver = list(range(n))
    depth = [0] * n
    seen = [False] * n
    heap = []
    tick = 0
    for c in range(n):
        r, q = divmod(c, w)
        if r in (0, h - 1) or q in (0, w - 1):
            seen[c] = True
            heap.append((z[c], tick, c))
            tick += 1
    heapq.heapify(heap)
    steps = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
    while heap:
        zc, _, c = heapq.heappop(heap)
        r, q = divmod(c, w)
        for dr, dq in steps:
            rr, qq = r + dr, q + dq
            if 0 <= rr < h and 0 <= qq < w:
                nb = rr * w + qq
                if not seen[nb]:
                    seen[nb] = True
                    receiver[nb] = c
                    depth[nb] = depth[c] + 1
                    tick += 1
                    heapq.heappush(heap, (z[nb], tick, nb))
    return np.array(receiver), np.array(depth)


def _upstream_sums(values, receiver, depth, decay):
    """Sums of ``values`` (cells, k) and of weights over each cell and everything upstream.

    A cell n steps upstream weighs ``decay**n``; with decay 1 the weight sum is
    the upstream area in cells.
    """
    load = np.array(values, dtype=float, copy=True)
    weight = np.ones(load.shape[0])
    order = np.argsort(-depth, kind="stable")
    levels = np.split(order, np.flatnonzero(np.diff(depth[order])) + 1)
    for cells in levels:
        cells = cells[receiver[cells] != cells]
        if cells.size == 0:
            continue
        np.add.at(load, receiver[cells], decay * load[cells])
        np.add.at(weight, receiver[cells], decay * weight[cells])
    return load, weight


# ---------------------------------------------------------------- mineralisation


def _faults(rng, mask, xs, ys):
    """Two or three slightly curved NE-trending fault traces, as (x, y) polylines."""
    inside_x, inside_y = xs[mask], ys[mask]
    cx, cy = inside_x.mean(), inside_y.mean()
    n = int(rng.integers(2, 4))
    offsets = np.linspace(-11000, 11000, n) + rng.normal(0, 1500, n)
    s = np.linspace(-45000, 45000, 901)
    traces = []
    for off in offsets:
        a = np.radians(rng.uniform(38, 55))
        bend = rng.uniform(-1.0, 1.0) * 1e-5
        amp, wavelength, phase = rng.uniform(300, 1200), rng.uniform(12000, 25000), rng.uniform(0, 2 * np.pi)
        v = off + bend * s**2 + amp * np.sin(2 * np.pi * s / wavelength + phase)
        fx = cx + s * np.sin(a) + v * np.cos(a)
        fy = cy + s * np.cos(a) - v * np.sin(a)
        keep = _inside(mask, fx, fy)
        traces.append((fx[keep], fy[keep]))
    return traces


def _inside(mask, x, y):
    col = np.floor((np.asarray(x) - _EXTENT[0]) / _CELL).astype(int)
    row = np.floor((_EXTENT[3] - np.asarray(y)) / _CELL).astype(int)
    ok = (row >= 0) & (row < mask.shape[0]) & (col >= 0) & (col < mask.shape[1])
    out = np.zeros(ok.shape, dtype=bool)
    out[ok] = mask[row[ok], col[ok]]
    return out


def _mineral_systems(rng, faults, mask):
    """Known sites and barren anomalies: position, strike, style, strength, site attributes."""
    n_sites = int(rng.integers(38, 53))
    n_barren = int(rng.integers(8, 14))
    stations = [(k, i) for k, (fx, _) in enumerate(faults) for i in range(1, len(fx) - 1)]
    rows = np.flatnonzero(mask.any(axis=1))
    south_y = _EXTENT[3] - (rows[-1] + 1 - SOUTH_SHARE * (rows[-1] + 1 - rows[0])) * _CELL
    south_stations = [(k, i) for k, i in stations if faults[k][1][i] < south_y - 1000]
    # stratified positions spread the systems along the whole length of the faults
    slots = rng.permutation(n_sites + n_barren)
    systems = []
    retry = False
    while len(systems) < n_sites + n_barren:
        has_site = len(systems) < n_sites
        south = len(systems) < MIN_SOUTH_SITES
        on_fault = rng.random() < (0.85 if has_site else 0.6)
        if south and not south_stations:
            x = rng.uniform(_EXTENT[0], _EXTENT[2])
            y = rng.uniform(_EXTENT[1], south_y)
            strike = np.radians(rng.normal(45, 15))
            style = rng.choice(list(_ASSOCIATIONS), p=(0.5, 0.3, 0.2))
        elif south:
            # the first sites go to the southern fifth, on its faults
            x, y, strike, style = _on_fault(rng, faults, south_stations[int(rng.random() * len(south_stations))])
        elif on_fault:
            u = rng.random() if retry else (slots[len(systems)] + rng.random()) / slots.size
            x, y, strike, style = _on_fault(rng, faults, stations[int(u * len(stations))])
        else:
            x = rng.uniform(_EXTENT[0], _EXTENT[2])
            y = rng.uniform(_EXTENT[1], _EXTENT[3])
            strike = np.radians(rng.normal(45, 15))
            style = rng.choice(list(_ASSOCIATIONS), p=(0.2, 0.3, 0.5))
        retry = not _inside(mask, [x], [y])[0] or (south and y >= south_y)
        if retry:
            continue
        site_type = rng.choice(SITE_TYPES, p=(0.15, 0.2, 0.3, 0.35)) if has_site else None
        strength = _halo_strength(rng, site_type)
        systems.append(
            {
                "x": x,
                "y": y,
                "strike": strike,
                "style": str(style),
                "strength": strength,
                "site_type": None if site_type is None else str(site_type),
                "along": rng.uniform(700, 1800),
                "across": rng.uniform(300, 700),
            }
        )
    return systems


def _on_fault(rng, faults, station):
    """A system near fault ``station`` (fault, point): offset across the strike, style."""
    k, i = station
    fx, fy = faults[k]
    strike = np.arctan2(fx[i + 1] - fx[i - 1], fy[i + 1] - fy[i - 1])
    offset = rng.normal(0, 350)
    style = rng.choice(list(_ASSOCIATIONS), p=(0.5, 0.3, 0.2))
    return fx[i] + offset * np.cos(strike), fy[i] - offset * np.sin(strike), strike, style


def _truth_field(systems, xs, ys):
    """Deposit footprint: for each system with a site, an elliptical Gaussian of
    its along- and across-strike lengths; the largest over systems, in [0, 1]."""
    truth = np.zeros(xs.shape)
    for system in systems:
        if system["site_type"] is None:
            continue
        s, c = np.sin(system["strike"]), np.cos(system["strike"])
        dx, dy = xs - system["x"], ys - system["y"]
        along = (dx * s + dy * c) / system["along"]
        across = (dx * c - dy * s) / system["across"]
        truth = np.maximum(truth, np.exp(-0.5 * (along ** 2 + across ** 2)))
    return truth.astype(np.float32)


def _halo_strength(rng, site_type):
    """Peak log-enrichment of the main element; about one site in five shows (almost) nothing."""
    if site_type is not None and rng.random() < 0.2:
        return rng.uniform(0.0, 0.3)  # blind or tiny: no surface signature
    low, high = _STRENGTH[site_type]
    return rng.uniform(low, high)


def _halo(rng, system, xs, ys, irregular):
    """Irregular halo of 2-4 Gaussian lobes strung along the strike.

    Returns flat cell indices and halo values in [0, 1.6]; cells beyond six
    along-strike lengths are left out, where the halo is negligible.
    """
    reach = 6 * system["along"]
    cols = np.abs(xs[0] - system["x"]) <= reach
    rows = np.abs(ys[:, 0] - system["y"]) <= reach
    index = np.ravel_multi_index(np.ix_(rows, cols), xs.shape).ravel()
    x, y = xs.ravel()[index], ys.ravel()[index]
    shape = np.zeros(index.size)
    s, c = np.sin(system["strike"]), np.cos(system["strike"])
    for k in range(int(rng.integers(2, 5))):
        shift = rng.normal(0, system["along"] * 0.8) if k else 0.0
        dx, dy = x - (system["x"] + shift * s), y - (system["y"] + shift * c)
        along = dx * s + dy * c
        across = dx * c - dy * s
        amp = 1.0 if k == 0 else rng.uniform(0.3, 0.9)
        scale = rng.uniform(0.6, 1.2)
        shape += amp * np.exp(
            -0.5 * ((along / (system["along"] * scale)) ** 2 + (across / (system["across"] * scale)) ** 2)
        )
    patchy = np.clip(np.exp(0.4 * irregular.ravel()[index]), 0.4, 1.6)
    return index, np.clip(shape, 0, 1) * patchy


def _rock_log_concentrations(rng, shape, lithology, systems, xs, ys):
    """ln concentration of every element in every cell, shape (cells, elements)."""
    shared = [_smooth_field(rng, shape, length) for length in (6000, 3000)]
    irregular = _smooth_field(rng, shape, 500)
    out = np.empty((lithology.size, len(ELEMENTS)))
    for j, element in enumerate(ELEMENTS):
        sigma = _ELEMENT_TABLE[element][2]
        short = element in _SHORT_RANGE
        length = rng.uniform(500, 1000) if short else rng.uniform(1500, 4500)
        own = _smooth_field(rng, shape, length, stretch=rng.uniform(1.0, 2.0))
        mix = 0.0 if short else rng.uniform(0.2, 0.5)
        field = np.sqrt(1 - mix**2) * own + mix * shared[j % 2]
        median = np.log(np.array(_BACKGROUND[element]))[lithology]
        out[:, j] = (median + sigma * field).ravel()
    enrichment = np.zeros_like(out)
    for system in systems:
        index, halo = _halo(rng, system, xs, ys, irregular)
        weights = _ASSOCIATIONS[system["style"]]
        for j, element in enumerate(ELEMENTS):
            w = weights.get(element, _DILUTION)
            # breadth exponent < 1 widens the halo of mobile elements such as Hg
            enrichment[index, j] += system["strength"] * w * halo ** _ELEMENT_TABLE[element][4]
    # overlapping haloes saturate instead of multiplying without bound (ore grade is finite)
    return out + _MAX_ENRICHMENT * np.tanh(enrichment / _MAX_ENRICHMENT)


# ---------------------------------------------------------------- samples


def _sample_cells(rng, mask, area, n):
    """Cells for ``n`` samples: mostly small streams inside the survey, a few off-stream."""
    flat_mask = mask.ravel()
    stream = np.flatnonzero(flat_mask & (area >= 3))
    other = np.flatnonzero(flat_mask & (area < 3))
    n_other = int(0.04 * n)
    p = area[stream] ** -0.35
    picked = rng.choice(stream, size=n - n_other, replace=False, p=p / p.sum())
    return np.concatenate([picked, rng.choice(other, size=n_other, replace=False)])


def _samples_table(rng, cells, stream, xs, ys):
    n = cells.size
    x = xs.ravel()[cells] + rng.uniform(-95, 95, n)
    y = ys.ravel()[cells] + rng.uniform(-95, 95, n)
    true = stream[cells]
    grain = rng.normal(0, 0.1, n)[:, None]  # fines vs sand, shared by all elements
    sigmas = np.array([_ELEMENT_TABLE[e][3] for e in ELEMENTS])
    values = true * np.exp(grain + sigmas * rng.standard_normal(true.shape))

    batch = _lab_batches(x, y)
    n_dup = int(round(rng.uniform(0.012, 0.019) * n))
    dup_of = rng.choice(n, size=n_dup, replace=False)
    dup_values = values[dup_of] * np.exp(0.5 * sigmas * rng.standard_normal((n_dup, len(ELEMENTS))))

    x = np.concatenate([x, x[dup_of]])
    y = np.concatenate([y, y[dup_of]])
    values = np.vstack([values, dup_values])
    batch = np.concatenate([batch, batch[dup_of]])
    is_dup = np.r_[np.zeros(n, bool), np.ones(n_dup, bool)]

    # lab files run batch by batch, samples in field order, duplicates at the batch end
    route = np.round(y / 2000.0) * -1e7 + x
    order = np.lexsort((route, is_dup, batch))
    x, y, values, batch = x[order], y[order], values[order], batch[order]

    conventions = _batch_conventions(rng)
    frame = {"X": [f"{v:.0f}" for v in x], "Y": [f"{v:.0f}" for v in y]}
    missing = rng.random(values.shape) < 0.004
    start = int(rng.integers(0, len(x) - 80))
    missing[start : start + int(rng.integers(30, 80)), ELEMENTS.index("Hg")] = True  # a failed Hg run
    for j, element in enumerate(ELEMENTS):
        frame[element] = _format_column(values[:, j], element, batch, conventions, missing[:, j])
    samples = pd.DataFrame(frame)
    _break_coordinates(rng, samples, np.flatnonzero(~is_dup[order]))
    return samples.astype(str)


def _lab_batches(x, y):
    """Six lab batches, one per map-sheet block (3 across, 2 down)."""
    col = np.digitize(x, [420000.0, 440000.0])
    row = (y < 2415000.0).astype(int)
    return row * 3 + col


def _batch_conventions(rng):
    """Each batch's (below-detection style, missing code); every combination occurs once."""
    combos = [(bdl, miss) for bdl in ("negative", "less-than") for miss in ("-9999", "", "NA")]
    return [combos[i] for i in rng.permutation(len(combos))]


def _format_column(values, element, batch, conventions, missing):
    dl, decimals = _ELEMENT_TABLE[element][:2]
    dl_text = f"{dl:g}"
    out = []
    for v, b, m in zip(values, batch, missing):
        bdl_style, missing_code = conventions[b]
        if m:
            out.append(missing_code)
        elif v < dl:
            out.append(f"-{dl_text}" if bdl_style == "negative" else f"<{dl_text}")
        else:
            text = f"{v:.{decimals}f}"
            out.append(text.rstrip("0").rstrip(".") if "." in text else text)
    return out


def _break_coordinates(rng, samples, candidates):
    """Damage 3-4 rows' coordinates the way field sheets get mistyped."""
    rows = rng.choice(candidates, size=int(rng.integers(3, 5)), replace=False)
    damages = ("empty x", "dropped digit", "swapped", "zero y")
    for k, row in enumerate(rows):
        kind = damages[k]
        if kind == "empty x":
            samples.loc[row, "X"] = ""
        elif kind == "dropped digit":
            samples.loc[row, "Y"] = samples.loc[row, "Y"][:-1]
        elif kind == "swapped":
            samples.loc[row, ["X", "Y"]] = [samples.loc[row, "Y"], samples.loc[row, "X"]]
        else:
            samples.loc[row, "Y"] = "0"


# ---------------------------------------------------------------- sites


def _sites_table(rng, systems):
    sites = [s for s in systems if s["site_type"] is not None]
    names = _site_names(rng, len(sites))
    rows = [
        {
            "X": int(round(s["x"])),
            "Y": int(round(s["y"])),
            "name": name,
            "commodity": str(rng.choice(_COMMODITIES[s["style"]])),
            "site_type": s["site_type"],
        }
        for s, name in zip(sites, names)
    ]
    return pd.DataFrame(rows).sort_values("name", ignore_index=True)


def _site_names(rng, n):
    """Fictional names built from syllables; unique."""
    first = ("Da", "Xiao", "Shang", "Xia", "Heng", "Long", "Shi", "Tian", "Gu", "Jin", "Yin", "Tong",
             "Huang", "Bai", "Hong", "Qing", "Ma", "Niu", "Yang", "Ling", "Feng", "Song", "Zhu", "Luo")
    second = ("tang", "keng", "ling", "shan", "dong", "ping", "ao", "tian", "chong", "wan", "tou", "shui",
              "po", "gang", "li", "kou")
    names = []
    while len(names) < n:
        base = str(rng.choice(first)) + str(rng.choice(second))
        name = base if rng.random() < 0.8 else f"{base} {string.ascii_uppercase[int(rng.integers(0, 3))]}"
        if name not in names:
            names.append(name)
    return names


if __name__ == "__main__":
    main()
