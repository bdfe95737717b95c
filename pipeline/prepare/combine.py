"""Combining values: twin columns of one element, the gross-outlier screen, rows at one location."""

import numpy as np
import pandas as pd

from ..errors import InputError
from ..units import conversion_factor
from ..value_screens import duplicate_conflicts, gross_outliers
from .values import (_HAS_VALUE, _MISSING_CAUSES, ABOVE, BELOW, BELOW_UNKNOWN, OUTLIER, TEXT, VALID, _plain,
                     _round)

DUPLICATE_RULES = ("median", "mean", "first", "error")
#: twin columns of one element whose measured values differ by more than this factor (median ratio) stop
TWIN_RATIO_LIMIT = 3.0
#: distinct unknown texts counted per element in qa.json (the most frequent first)
TEXT_VALUES_SHOWN = 20


# ---------------------------------------------------------------- columns of one element

def _combine(parsed, unit, rule, row_numbers, name=None, path=None):
    """One variable from the parsed columns of an element (tuples of entry, ParsedValues, values in
    ``unit``, stand-in limit): per row the value taken, its status and limit, and the counts of every repair."""
    parsed, measured, first, choice = _choose_columns(parsed)
    take = np.arange(len(choice))
    twins = _compare_twins(parsed, measured, row_numbers, name, path) if len(parsed) > 1 else None
    status = np.stack([p.status for _, p, _, _ in parsed])[choice, take]
    values = np.stack([v for _, _, v, _ in parsed])[choice, take]
    limits = np.stack([_limits_in(p, proxy, conversion_factor(e.unit, unit))
                       for e, p, _, proxy in parsed])[choice, take]
    if twins is not None:
        twins["censored_replaced_by_measured"] = int((choice != first).sum())
    text_at = np.flatnonzero(status == TEXT)
    text = {"count": int(len(text_at)), "examples": _text_examples(parsed, choice, text_at, row_numbers),
            "values": _text_counts(parsed, choice, text_at)}
    return {
        "twins": twins,
        "values": values,
        "limits": limits,
        "unit": unit,
        "sources": _sources(parsed, unit, choice, status),
        "detected": int(((status == VALID) | (status == ABOVE)).sum()),
        "status": status,
        "missing": _missing_counts(status, values, rule),
        "below": _below_counts(parsed, status),
        "above": int((status == ABOVE).sum()),
        "text": text,
    }


def _choose_columns(parsed):
    """The columns, those with more values first, and per row the column whose cell is taken.

    Each row takes the first column with a measured value, else the first with a censored one (<0.5,
    >5): an over-limit flag never hides an exact re-assay. Returns (parsed in that order, measured
    mask per column, first column with any value, column taken)."""
    order = sorted(range(len(parsed)), key=lambda i: -int(np.isin(parsed[i][1].status, _HAS_VALUE).sum()))
    parsed = [parsed[i] for i in order]
    has = np.stack([np.isin(p.status, _HAS_VALUE) for _, p, _, _ in parsed])
    measured = np.stack([p.status == VALID for _, p, _, _ in parsed])
    first = np.where(has.any(axis=0), has.argmax(axis=0), 0)
    choice = np.where(measured.any(axis=0), measured.argmax(axis=0), first)
    return parsed, measured, first, choice


def _missing_counts(status, values, rule):
    """{"total": missing values, cause: count} of one variable."""
    missing = {"total": int(np.isnan(values).sum())}
    for code, label in _MISSING_CAUSES.items():
        count = int((status == code).sum())
        if count:
            missing[label] = count
    censored_missing = int((np.isin(status, (BELOW, BELOW_UNKNOWN)) & np.isnan(values)).sum())
    if censored_missing:
        label = "below_detection_set_missing" if rule == "missing" else "below_detection_no_limit_known"
        missing[label] = censored_missing
    return missing


def _below_counts(parsed, status):
    """Censored cells below a limit, with and without the limit given (and the stand-in limit then used)."""
    below_known, below_unknown = int((status == BELOW).sum()), int((status == BELOW_UNKNOWN).sum())
    below = {"count": below_known + below_unknown, "limit_given": below_known, "limit_not_given": below_unknown}
    if below_unknown:
        below["stand_in_limit"] = {e.column: _plain(proxy) for e, _, _, proxy in parsed if np.isfinite(proxy)}
    return below


def _text_examples(parsed, choice, positions, row_numbers):
    """The first five cells of unknown text: row, column and the text."""
    examples = []
    for i in positions[:5]:
        entry, p, _, _ = parsed[choice[i]]
        examples.append({"row": int(row_numbers[i]), "column": entry.column, "value": str(p.raw.iloc[i])})
    return examples


def _sources(parsed, unit, choice, status):
    """The columns of one variable: unit, conversion factor, method, and (twins) how many values each gave."""
    sources = []
    for k, (entry, _, _, _) in enumerate(parsed):
        source = {"column": entry.column, "unit": entry.unit, "factor": conversion_factor(entry.unit, unit)}
        if entry.method:
            source["method"] = entry.method
        if len(parsed) > 1:
            source["values_used"] = int(((choice == k) & np.isin(status, _HAS_VALUE)).sum())
        sources.append(source)
    return sources


def _text_counts(parsed, choice, positions):
    """{text: rows} of the cells no flag table knows, the most frequent TEXT_VALUES_SHOWN."""
    texts = pd.Series([str(parsed[choice[i]][1].raw.iloc[i]).strip() for i in positions], dtype=object)
    counts = texts.value_counts() if len(texts) else pd.Series(dtype=int)
    return {str(k): int(v) for k, v in counts.head(TEXT_VALUES_SHOWN).items()}


def _compare_twins(parsed, measured, row_numbers, name, path):
    """Median ratio of each further column to the first where both are measured; a ratio beyond
    TWIN_RATIO_LIMIT (a ppm column holding ppb numbers gives 1000) is an InputError."""
    base_entry, base, base_values, _ = parsed[0]
    report = {"columns": [e.column for e, _, _, _ in parsed], "compared": {}}
    for k in range(1, len(parsed)):
        entry, p, values, _ = parsed[k]
        both = measured[0] & measured[k] & (base_values > 0) & (values > 0)
        if not both.any():
            report["compared"][entry.column] = {"rows_both_measured": 0}
            continue
        ratio = values[both] / base_values[both]
        median = float(np.median(ratio))
        report["compared"][entry.column] = {"rows_both_measured": int(both.sum()), "median_ratio": _round(median)}
        if not 1 / TWIN_RATIO_LIMIT <= median <= TWIN_RATIO_LIMIT:
            i = int(np.flatnonzero(both)[np.argmin(np.abs(np.log(ratio / median)))])
            raise InputError(
                f"element {name!r} is in columns {base_entry.column!r} ({base_entry.unit}) and {entry.column!r} "
                f"({entry.unit}), which disagree: on the {int(both.sum())} rows where both are measured, "
                f"{entry.column} / {base_entry.column} in one unit has median ratio {median:.4g} (row "
                f"{int(row_numbers[i])}: {str(base.raw.iloc[i])!r} and {str(p.raw.iloc[i])!r}); a ratio near 1000 or "
                "0.001 means a column's unit is mislabelled (ppb against ppm): fix the column name or units, or map "
                f"{name} to one column under elements", path=path, column=entry.column,
                rows=[int(row_numbers[i])])
    return report


def _limits_in(parsed, proxy, factor):
    """Detection limit of each censored cell in the variable's unit (the stand-in where the file gives none)."""
    limits = parsed.limits.copy()
    limits[parsed.status == BELOW_UNKNOWN] = proxy
    return limits * factor


# ---------------------------------------------------------------- gross outliers

def _screen_outliers(variables, row_numbers, action, z, gap):
    """Flag gross outliers of every element (value_screens.gross_outliers) and cap, exclude or keep them."""
    report = {"action": action, "robust_z": z, "gap": gap,
              "rule": f"log10 values over {z:g} robust standard deviations (1.4826 MAD) above the median and "
                      f">= {gap:g} x the next value below them (at most 0.1 % of an element's values); cap: set "
                      "to the largest value kept, exclude: set missing, keep: flagged only",
              "elements": {}}
    for name, var in variables.items():
        positions, kept_max, found = gross_outliers(var["values"], var["status"] == VALID, z=z, gap=gap)
        if not len(positions):
            var["outliers"] = 0
            continue
        for item in found:
            item["row"] = int(row_numbers[item.pop("position")])
        if action == "cap":
            var["values"][positions] = kept_max
            for item in found:
                item["capped_to"] = kept_max
        elif action == "exclude":
            var["values"][positions] = np.nan
            var["status"][positions] = OUTLIER
            var["missing"]["total"] = int(np.isnan(var["values"]).sum())
            var["missing"]["gross_outlier"] = int(len(positions))
        var["outliers"] = int(len(positions))
        report["elements"][name] = found
    return report


# ---------------------------------------------------------------- rows at one location

def _location_ids(x_in, y_in):
    """Per row, the number of its location: rows at identical input coordinates share one (file order)."""
    return pd.DataFrame({"x": x_in, "y": y_in}).groupby(["x", "y"], sort=False).ngroup().to_numpy()


def _merge_locations(x_in, y_in, variables, row_numbers, ids, rule, tolerance, path, id_column):
    """Rows at one location merged per element by ``rule``, and the conflicting repeats and sample IDs.

    Returns {"id": location of each row, "n_merged": rows per location, "first_row": first row of each
    location, "merged": DataFrame of the elements per location, "duplicates": the QA of the repeats}.
    """
    location_id = _location_ids(x_in, y_in)
    n_merged = np.bincount(location_id)
    values = pd.DataFrame({name: var["values"] for name, var in variables.items()})
    duplicates = _duplicate_report(location_id, values, row_numbers, tolerance, rule, path)
    duplicates.update(_same_id_elsewhere(ids, location_id, row_numbers, rule, path, id_column))
    if len(n_merged) == len(location_id) and (location_id == np.arange(len(location_id))).all():
        merged = values  # every location sampled once: nothing to merge
    else:
        merged = values.groupby(location_id, sort=True).agg("median" if rule == "error" else rule)
    first_row = np.unique(location_id, return_index=True)[1]
    return {"id": location_id, "n_merged": n_merged, "first_row": first_row, "merged": merged,
            "duplicates": duplicates}


def _same_id_elsewhere(ids, location_id, row_numbers, rule, path, column):
    """Sample IDs written at more than one location: {"same_id_other_location": [{id, rows, locations}]}."""
    if ids is None:
        return {}
    frame = pd.DataFrame({"id": ids.astype(str).str.strip().to_numpy(), "loc": location_id, "row": row_numbers})
    frame = frame[frame["id"] != ""]
    spread = frame.groupby("id", sort=True)["loc"].nunique()
    found = [{"id": str(i), "rows": [int(r) for r in frame.loc[frame["id"] == i, "row"]], "locations": int(n)}
             for i, n in spread[spread > 1].items()]
    if rule == "error" and found:
        first = found[0]
        raise InputError(f"{len(found)} sample IDs are written at more than one location (first: {first['id']!r} at "
                         f"rows {first['rows']}); prepare.duplicate_rule is 'error': fix the file, or set "
                         "duplicate_rule median, mean or first", path=path, column=column, rows=first["rows"])
    return {"id_column": column, "same_id_other_location": found}


def _duplicate_report(location_id, values, row_numbers, tolerance, rule, path):
    """Conflicting repeats per element (value_screens.duplicate_conflicts); with
    rule 'error', an InputError naming the rows."""
    conflicts, rows = {}, []
    for name in values.columns:
        found = duplicate_conflicts(location_id, values[name].to_numpy(dtype=float), tolerance=tolerance)
        if found:
            conflicts[name] = len(found)
        for loc, (low, high, n) in found.items():
            at = [int(r) for r in row_numbers[location_id == loc]]
            rows.append({"element": name, "rows": at, "values": n, "min": low, "max": high})
    if rule == "error" and rows:
        first = rows[0]
        raise InputError(f"{len(rows)} repeated locations hold values that differ by more than "
                         f"{tolerance:.0%} (first: {first['element']} at rows {first['rows']}: {first['min']:g} to "
                         f"{first['max']:g}); prepare.duplicate_rule is 'error': fix the file, or merge them with "
                         "duplicate_rule median, mean or first, or raise prepare.duplicate_tolerance",
                         path=path, rows=first["rows"])
    return {"tolerance": tolerance, "conflicting_locations": conflicts, "conflicts": rows}
