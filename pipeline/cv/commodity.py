"""The commodity reference: the raster of the element a survey is explored for.

Before any site is held out, a geologist already holds the map of the
commodity element (gold for a gold survey). ``evaluate.commodity`` declares it;
with several elements the reference is the mean of their rank maps, so no
element's units or spread dominate. When the config leaves it empty, the
choice is read from the sites' commodity field (``SITE_COMMO``: 'Au, Ag') and
logged: the elements named by at least half of the sites, or else the most
often named one. Neither way looks at where a held-out site lies.
"""

import re
from collections import Counter

import numpy as np

from ..errors import InputError

#: sites columns tried, in order, for each site's commodities
COMMODITY_COLUMNS = ("SITE_COMMO", "All_main_c", "commodity", "Commodity", "COMMODITY")
_SYMBOL = re.compile(r"^[A-Z][a-z]?$")


def commodities_from_sites(values):
    """(elements, counts) from the sites' commodity strings: every element
    symbol named by at least half of the sites, else the most often named one.
    ``counts``: {symbol: number of sites naming it}."""
    named = [{t for t in re.split(r"[^A-Za-z]+", str(v)) if _SYMBOL.match(t)} for v in values]
    counts = Counter(t for tokens in named for t in tokens)
    if not counts:
        return [], {}
    half = 0.5 * len(named)
    chosen = sorted([t for t, c in counts.items() if c >= half], key=lambda t: (-counts[t], t))
    if not chosen:
        chosen = [max(sorted(counts), key=lambda t: counts[t])]
    return chosen, dict(counts)


def commodity_column(sites, column=None):
    """(elements, column, counts) from the first commodity column of ``sites`` (``column``, else the first of
    COMMODITY_COLUMNS present) that names an element, or (None, None, {}) when none does."""
    columns = [column] if column else [c for c in COMMODITY_COLUMNS if c in sites.columns]
    for name in columns:
        chosen, counts = commodities_from_sites(sites[name].dropna())
        if chosen:
            return chosen, name, counts
    return None, None, {}


def resolve_commodity(declared, sites, column=None, *, where="evaluate.commodity"):
    """(elements, reason) of the commodity reference. ``declared``: the config's
    list or None; ``sites``: a table of the prepared sites, read only for its
    commodity column when nothing is declared."""
    if declared:
        return [str(e) for e in declared], "declared in the config (evaluate.commodity)"
    if column and column not in sites.columns:
        raise InputError(f"evaluate.commodity_column {column!r} is not a column of the sites "
                         f"(columns: {', '.join(map(str, sites.columns))})")
    chosen, name, counts = commodity_column(sites, column)
    if chosen:
        tally = ", ".join(f"{t} {counts[t]}" for t in sorted(counts, key=lambda t: -counts[t])[:6])
        return chosen, (f"read from the sites' {name} column ({len(sites)} sites; named by: {tally}): the "
                        "elements named by at least half of the sites")
    raise InputError(f"{where} is not set and the sites carry no commodity column "
                     f"({', '.join(COMMODITY_COLUMNS)}): declare the survey's commodity element(s), e.g. "
                     "'evaluate: {commodity: [Au]}' for a gold survey, or name the sites column with "
                     "evaluate.commodity_column")


def match_rasters(elements, available):
    """The raster element names of ``elements``; a clear error for one the
    survey has no raster of (not measured, or dropped by prepare)."""
    missing = [e for e in elements if e not in available]
    if missing:
        raise InputError(f"evaluate.commodity names {', '.join(missing)}, but the survey has no raster of "
                         f"{'it' if len(missing) == 1 else 'them'} (elements with rasters: "
                         f"{', '.join(available)}); declare elements the survey measured")
    return list(elements)


def rank_map(values, area_mask):
    """Each area cell's value as its mid-rank share of the area's cells (0, 1];
    NaN outside the area and where the raster has no value."""
    values = np.asarray(values, dtype=np.float64)
    area = np.asarray(area_mask, dtype=bool) & np.isfinite(values)
    out = np.full(values.shape, np.nan)
    v = values[area]
    if v.size == 0:
        return out
    ranked = np.sort(v)
    below = np.searchsorted(ranked, v, "left")
    ties = np.searchsorted(ranked, v, "right") - below
    out[area] = (below + 0.5 * ties + 0.5) / v.size
    return out


def commodity_map(bands, area_mask):
    """Mean of the elements' rank maps (one element: its rank map, which ranks
    the cells exactly as its raster does). ``bands``: (k, rows, cols)."""
    ranks = np.stack([rank_map(b, area_mask) for b in np.asarray(bands, dtype=np.float64)])
    held = np.isfinite(ranks)
    count = held.sum(axis=0)
    out = np.where(count > 0, np.where(held, ranks, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)
    return np.where(np.asarray(area_mask, bool), out, np.nan).astype(np.float32)
