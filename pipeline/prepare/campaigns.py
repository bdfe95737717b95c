"""Campaigns (the company report of each row): labels, censoring coded per campaign, harmonising it."""

import numpy as np
import pandas as pd

from ..errors import InputError
from .values import _NA_TOKENS, BELOW, BELOW_UNKNOWN, DETECTION_LIMIT_RULES, VALID, _as_text, _round

UNKNOWN_CAMPAIGN = "unknown"
HARMONISE_RULE = (
    "per element, every censored value is set to detection_limit_rule applied to the largest detection limit "
    "seen (any campaign, in the element's unit), before locations are merged, so that the censored value does "
    "not mark the campaign; with below_limit also every measured value below that limit, so that a lower lab "
    "limit does not mark it either (off by default: it erases genuine low-level variation)")


def _check_campaign_column(table, campaign_column, path):
    if campaign_column is None or campaign_column in table.columns:
        return
    geometry = (table.attrs.get("geometry_x"), table.attrs.get("geometry_y"))
    columns = [str(c) for c in table.columns if c not in geometry]
    raise InputError(f"campaign_column {campaign_column!r} is not a column of the file; set campaign_column to "
                     f"one of: {', '.join(columns)} (or null)", path=path, column=campaign_column)


def _campaign_screen(variables, raw, harmonise, rule, below_limit):
    """Campaign labels of the rows (``raw``: the campaign column, or None), how each campaign codes
    censoring, and the harmonising of the censored values (in place in ``variables``).

    Returns {"labels": per row or None, "n_missing": rows without a name, "censoring": censoring_by_campaign
    or None, "harmonised": harmonise_censoring_values' report or None}.
    """
    labels, n_missing = _campaign_labels(raw) if raw is not None else (None, 0)
    censoring = censoring_by_campaign(variables, labels) if labels is not None else None
    # before locations are merged: a median of a harmonised and an unharmonised row would mark the campaign
    harmonised = harmonise_censoring_values(variables, rule, below_limit=below_limit) if harmonise else None
    return {"labels": labels, "n_missing": n_missing, "censoring": censoring, "harmonised": harmonised}


def _campaign_labels(raw):
    """Campaign of each row as a string (integers without '.0'); missing names become 'unknown'.

    Returns (labels, number of rows whose name was missing).
    """
    text = _as_text(raw.reset_index(drop=True))
    missing = text.str.lower().isin(_NA_TOKENS).to_numpy()
    labels = text.to_numpy(dtype=object, copy=True)
    labels[missing] = UNKNOWN_CAMPAIGN
    return labels, int(missing.sum())


def _location_campaigns(location_id, campaign):
    """Per location (by id): the campaign most of its rows have (ties: the first in file order), and
    whether its rows come from more than one campaign."""
    frame = pd.DataFrame({"location": location_id, "campaign": campaign, "row": np.arange(len(campaign))})
    counts = frame.groupby(["location", "campaign"], sort=False)["row"].agg(["size", "min"]).reset_index()
    counts = counts.sort_values(["location", "size", "min"], ascending=[True, False, True])
    best = counts.drop_duplicates("location")["campaign"].to_numpy(dtype=object)
    mixed = counts.groupby("location").size().to_numpy() > 1
    return best, mixed


def _campaign_qa(column, campaign, n_missing, mixed):
    names, counts = np.unique(campaign.astype(str), return_counts=True)
    return {
        "column": column,
        "rows": {str(n): int(c) for n, c in zip(names, counts)},
        "rows_missing_set_unknown": n_missing,
        "location_rule": "a merged location takes the campaign most of its rows have (ties: the first in file "
                         "order)",
        "locations_with_several_campaigns": int(mixed.sum()),
    }


def censoring_by_campaign(variables, campaign):
    """Per element and campaign: rows, censored rows and the detection limits they carry.

    Each company report codes "below detection" its own way (-0.5 in one, -2 or 0 in another), so the
    coding alone can tell the campaigns apart; this shows where. Limits are in the element's unit;
    n_limit_not_given counts zeros, bare '<' and 'BDL' (their stand-in limit is not listed). Counts
    cover the rows with usable coordinates, before harmonising and merging.
    """
    names = sorted(set(campaign))
    masks = {name: campaign == name for name in names}
    report = {}
    for element, var in variables.items():
        given, unknown = var["status"] == BELOW, var["status"] == BELOW_UNKNOWN
        missing = np.isnan(var["values"]) & ~given & ~unknown
        report[element] = {name: {
            "n": int(mask.sum()),
            "n_missing": int((mask & missing).sum()),
            "n_censored": int((mask & (given | unknown)).sum()),
            "n_limit_not_given": int((mask & unknown).sum()),
            "limits": sorted({_round(v) for v in var["limits"][mask & given]}),
        } for name, mask in masks.items()}
    return report


def harmonise_censoring_values(variables, rule, below_limit=False):
    """Put every censored value of an element on one level, in place; returns the counts per element.

    Campaigns with different detection limits get different replacement values (half of 0.5 vs half
    of 2), so a censored value names its campaign, and a model learns the campaign instead of the
    geology. The common level is the rule applied to the LARGEST limit seen for the element: only that
    limit holds for every campaign. Censored cells left missing (no limit known) stay missing.

    below_limit: also set measured values below the common limit to the common level, because a lab
    with a lower limit would otherwise still mark its campaign by values the others could not measure.
    Off by default: it erases genuine low-level variation whenever one campaign has a coarse limit (on
    the GSWA Katanning survey a 32-row report with a 1 ppb Au limit would flatten 1114 measured Au
    values, the low-level gold signal). Off, n_measured_below_limit_changed is 0. Under the rule
    'missing' the measured values below the limit become missing and are counted in values_missing.
    """
    factor = DETECTION_LIMIT_RULES[rule][0]
    report = {}
    for name, var in variables.items():
        status, values = var["status"], var["values"]
        censored = np.isin(status, (BELOW, BELOW_UNKNOWN)) & np.isfinite(var["limits"])
        if not censored.any():
            continue
        common = float(var["limits"][censored].max())
        level = common * factor
        censored &= ~np.isnan(values) | np.isnan(level)
        with np.errstate(invalid="ignore"):
            below = (status == VALID) & (values < common) & bool(below_limit)
        new = values.copy()
        new[censored | below] = level
        changed = ~(np.isclose(new, values, rtol=1e-9, atol=0.0) | (np.isnan(new) & np.isnan(values)))
        var["values"] = new
        var["detected"] -= int(below.sum())
        if np.isnan(level) and below.any():
            var["missing"]["below_common_limit_set_missing"] = int(below.sum())
            var["missing"]["total"] += int(below.sum())
        report[name] = {
            "common_limit": _round(common),
            "unit": var["unit"],
            "set_to": None if np.isnan(level) else _round(level),
            "n_censored_changed": int((changed & censored).sum()),
            "n_measured_below_limit_changed": int((changed & below).sum()),
        }
    return report
