"""Why the sites miss the samples: how far apart the two lie, in which
direction, in which CRS each was read, and the one fix most likely to bring
them together, tried in a fixed order so that the same files always get the
same advice:

1. the sites' x and y swapped (``sites_x_column`` / ``sites_y_column``);
2. the sites read in the samples' CRS (``sites_crs``);
3. the sites read in a neighbouring UTM zone of their own CRS (``sites_crs``);
4. none of these: the offset and direction alone.

A fix counts when it puts at least half of the sites inside the samples'
bounding box.
"""

import numpy as np
import pyproj

COMPASS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")


def _inside_share(xy, bounds):
    xmin, ymin, xmax, ymax = bounds
    x, y = xy[:, 0], xy[:, 1]
    return float(np.mean((x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax))) if len(xy) else 0.0


def _to(xy, source, target):
    t = pyproj.Transformer.from_crs(source, target, always_xy=True)
    x, y = t.transform(xy[:, 0], xy[:, 1])
    return np.c_[x, y]


def _utm_neighbours(crs):
    """EPSG codes of the UTM zones 1..3 away from a WGS 84 / UTM or GDA / MGA CRS, nearest first."""
    code = crs.to_epsg() or 0
    for base, low, high in ((32600, 1, 60), (32700, 1, 60), (28300, 48, 58), (7800, 49, 56)):
        zone = code - base
        if low <= zone <= high:
            out = []
            for step in (1, 2, 3):
                out += [base + z for z in (zone - step, zone + step) if low <= z <= high]
            return out
    return []


def offset_hint(site_xy, sample_xy, working_crs, sites_crs_in, samples_crs_in):
    """A message on the sites' offset from the samples and the likely fix; None
    when at least half of the sites lie inside the samples' bounding box.
    Coordinates are in ``working_crs``; ``*_crs_in`` are the CRSs each file was read in."""
    site_xy, sample_xy = np.asarray(site_xy, float).reshape(-1, 2), np.asarray(sample_xy, float).reshape(-1, 2)
    bounds = (*sample_xy.min(axis=0), *sample_xy.max(axis=0))
    if not len(site_xy) or _inside_share(site_xy, bounds) >= 0.5:
        return None
    working, sites_in, samples_in = (pyproj.CRS.from_user_input(c) for c in (working_crs, sites_crs_in, samples_crs_in))
    d = np.median(site_xy, axis=0) - np.median(sample_xy, axis=0)
    distance = float(np.hypot(*d)) / 1000.0
    bearing = (np.degrees(np.arctan2(d[0], d[1])) + 360.0) % 360.0
    direction = COMPASS[int((bearing + 22.5) // 45) % 8]
    where = (f"the sites lie {distance:,.0f} km {direction} of the samples (median to median, in "
             f"{working.name}); the sites were read in {sites_in.name}, the samples in {samples_in.name}")
    raw = _to(site_xy, working, sites_in)
    fixes = [(raw[:, ::-1], sites_in, "swap sites_x_column and sites_y_column (the sites' x and y are exchanged)")]
    if not sites_in.equals(samples_in):
        fixes.append((raw, samples_in, f"set sites_crs: {_code(samples_in)} (the samples' CRS)"))
    fixes += [(raw, pyproj.CRS.from_epsg(c), f"set sites_crs: EPSG:{c} (a neighbouring UTM zone)")
              for c in _utm_neighbours(sites_in)]
    for xy, crs, advice in fixes:
        try:
            moved = _to(xy, crs, working)
        except pyproj.exceptions.ProjError:
            continue
        if np.isfinite(moved).all() and _inside_share(moved, bounds) >= 0.5:
            return f"{where}; most likely fix: {advice}"
    return f"{where}; no swap of x and y, nor the samples' CRS, nor a neighbouring UTM zone brings them together: " \
           "check the sites file and sites_crs"


def _code(crs):
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def frames_hint(sites, samples, sites_qa, samples_qa):
    """``offset_hint`` for the prepared GeoDataFrames and their QA (``crs_in``: the CRS each was read in)."""
    return offset_hint(sites.get_coordinates().to_numpy(), samples.get_coordinates().to_numpy(), samples.crs,
                       sites_qa["crs_in"], samples_qa["crs_in"])
