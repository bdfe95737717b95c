"""Screens of a survey's values as they come from the lab: missing-value codes
the config does not list, gross outliers and conflicting duplicate samples.

Each takes arrays and returns positions and a report; ``pipeline.prepare``
applies them and counts every change in qa.json.

Missing-value codes (``guess_codes``): a positive number written at
``min_repeats`` or more rows and at least ``factor`` times the 99th
percentile of the column's other measured values (old exports write 9999,
99999 or 1e6 for "not analysed": such a value, repeated, is no
concentration), or ``NINES_FACTOR`` times when it is written in nines (99,
999, ... 9999999). Zeros are not guessed: in the GSWA Katanning survey 26
columns hold both zeros and explicit limits (Bi: 811 zeros beside 340
"-0.003"), in rows with other measured values, so there a zero is censoring,
not "not analysed"; ``prepare.zero_means: missing`` says otherwise for a lab
that writes 0 for "not analysed", and qa.json counts zeros beside explicit
limits so that the user can tell.

Gross outliers (``gross_outliers``): in log10 space, the few largest measured
values that stand both ``z`` robust standard deviations (1.4826 MAD) above the
median and a factor ``gap`` above the next value below them: a typing or unit
error orders of magnitude above the rest stands alone, while a genuine
anomaly has neighbours in the distribution. At most ``max_share`` of the
values (and at least one) can be flagged.

Duplicates (``duplicate_conflicts``): rows merged into one location whose
measured values of an element differ by more than ``tolerance`` (relative to
the smaller).
"""

import numpy as np

#: a repeated value this many times the column's 99th percentile is a missing-value code
CODE_FACTOR = 100.0
#: ... or this many times, when it is written in nines (99, 999, ... 9999999), the codes' usual form
NINES_FACTOR = 10.0
NINES = (99.0, 999.0, 9999.0, 99999.0, 999999.0, 9999999.0)
CODE_MIN_REPEATS = 2
#: robust z (log10 space) and gap factor a gross outlier exceeds; the largest share of values flagged
OUTLIER_Z = 5.0
OUTLIER_GAP = 10.0
OUTLIER_MAX_SHARE = 0.001
OUTLIER_ACTIONS = ("cap", "exclude", "keep")
DUPLICATE_TOLERANCE = 0.5


def guess_codes(numbers, measured, *, factor=CODE_FACTOR, min_repeats=CODE_MIN_REPEATS):
    """(positions guessed as codes, [{value, rows, rule}]) of one column.
    ``numbers``: each cell's number (NaN where none); ``measured``: cells
    read as measured values."""
    numbers = np.asarray(numbers, dtype=float)
    measured = np.asarray(measured, bool) & np.isfinite(numbers) & (numbers > 0)
    hits = np.zeros(numbers.size, bool)
    report = []
    values = np.sort(numbers[measured])
    if values.size >= 10:
        distinct, starts, counts = np.unique(values, return_index=True, return_counts=True)
        for value, start, count in zip(distinct[::-1], starts[::-1], counts[::-1]):
            if count < min_repeats:
                continue
            p99 = _quantile_without(values, start, count, 0.99)
            if p99 is None:
                break
            nines = value in NINES
            if value >= (NINES_FACTOR if nines else factor) * p99:
                at = measured & (numbers == value)
                hits |= at
                times = f"{NINES_FACTOR:g} x (a value in nines)" if nines else f"{factor:g} x"
                report.append({"value": float(value), "rows": int(at.sum()),
                               "rule": f"written at {int(at.sum())} rows and >= {times} the column's 99th "
                                       "percentile of the other values"})
    return np.flatnonzero(hits), report


def _quantile_without(ordered, start, count, q):
    """np.quantile (linear) of the sorted ``ordered`` without its block ``start:start + count``; O(1)."""
    m = ordered.size - count
    if m <= 0:
        return None

    def at(i):          # the i-th value of the others
        return ordered[i] if i < start else ordered[i + count]

    pos = q * (m - 1)
    low = int(np.floor(pos))
    high = min(low + 1, m - 1)
    return float(at(low) + (at(high) - at(low)) * (pos - low))


def gross_outliers(values, measured, *, z=OUTLIER_Z, gap=OUTLIER_GAP, max_share=OUTLIER_MAX_SHARE):
    """(positions of gross outliers, the largest value kept, [{position, value, robust_z, gap}])."""
    values = np.asarray(values, dtype=float)
    ok = np.asarray(measured, bool) & np.isfinite(values) & (values > 0)
    pos = np.flatnonzero(ok)
    if pos.size < 20:
        return np.empty(0, int), float("nan"), []
    logs = np.log10(values[pos])
    median = float(np.median(logs))
    spread = 1.4826 * float(np.median(np.abs(logs - median)))
    if spread <= 0:
        return np.empty(0, int), float("nan"), []
    order = np.argsort(-logs, kind="stable")
    limit = max(1, int(np.ceil(max_share * pos.size)))
    flagged = 0
    for k in range(1, limit + 1):
        # the top k stand above the rest: all far in z, and a gap between the k-th and the (k+1)-th
        top_z = (logs[order[k - 1]] - median) / spread
        if top_z <= z:
            break
        if logs[order[k - 1]] - logs[order[k]] >= np.log10(gap):
            flagged = k
    if not flagged:
        return np.empty(0, int), float("nan"), []
    chosen = order[:flagged]
    kept_max = float(values[pos[order[flagged]]])
    report = [{"position": int(pos[i]), "value": float(values[pos[i]]),
               "robust_z": float((logs[i] - median) / spread),
               "times_largest_kept": float(values[pos[i]] / kept_max)} for i in chosen]
    return pos[chosen], kept_max, report


def duplicate_conflicts(location_id, values, *, tolerance=DUPLICATE_TOLERANCE):
    """Locations (ids) whose measured values differ by more than ``tolerance``
    relative to the smaller: {location: (min, max, n values)}."""
    location_id = np.asarray(location_id)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    out = {}
    if not ok.any():
        return out
    ids, v = location_id[ok], values[ok]
    order = np.argsort(ids, kind="stable")
    ids, v = ids[order], v[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    counts = np.diff(np.r_[starts, ids.size])
    lo = np.minimum.reduceat(v, starts)
    hi = np.maximum.reduceat(v, starts)
    for i in np.flatnonzero(counts > 1):
        low, high = lo[i], hi[i]
        scale = max(abs(low), 1e-12)
        if (high - low) / scale > tolerance:
            out[int(ids[starts[i]])] = (float(low), float(high), int(counts[i]))
    return out
