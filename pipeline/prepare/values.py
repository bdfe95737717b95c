"""Reading raw cells: cell status codes, lab text flags, detection-limit replacement, missing-code guessing."""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..value_screens import guess_codes

DETECTION_LIMIT_RULES = {
    "half": (0.5, "half the detection limit"),
    "limit": (1.0, "the detection limit"),
    "sqrt2": (1 / math.sqrt(2), "the detection limit divided by sqrt(2)"),
    "zero": (0.0, "zero"),
    "missing": (np.nan, "missing"),
}
DEFAULT_MISSING_CODES = (-9999,)

# status of one cell
VALID, EMPTY, CODE, CODE_GUESSED, TEXT, NON_FINITE, BELOW, BELOW_UNKNOWN, ABOVE, OUT_OF_RANGE = range(10)
ABOVE_NO_VALUE, OUTLIER, FLAGGED_MISSING = 10, 11, 12
_HAS_VALUE = (VALID, BELOW, BELOW_UNKNOWN, ABOVE)
_MISSING_CAUSES = {
    EMPTY: "empty_or_NA",
    CODE: "missing_code",
    CODE_GUESSED: "missing_code_guessed",
    TEXT: "text",
    NON_FINITE: "non_finite",
    OUT_OF_RANGE: "over_100_percent",
    ABOVE_NO_VALUE: "above_limit_no_value",
    OUTLIER: "gross_outlier",
    FLAGGED_MISSING: "flagged_not_analysed",
}
#: the text qualifiers labs write instead of a number, and what each means (prepare.text_flags adds or
#: overrides entries; matched after trimming, case-insensitive). "below": under a detection limit the
#: cell does not give (the column's smallest limit stands in); "above": over the upper limit with no
#: number (set missing and counted: no value to keep); "missing": not analysed or no sample.
TEXT_FLAGS = {
    **dict.fromkeys(["", "na", "n/a", "n.a.", "#n/a", "nan", "null", "none", "-", "--", "?", "x", "n.s.",
                     "ns", "no sample", "not analysed", "not analyzed", "i.s.", "is", "insufficient sample",
                     "l.n.r.", "lnr", "listed not received", "n.r.", "nr", "not received", "nss"], "missing"),
    **dict.fromkeys(["<", "bdl", "<dl", "<lod", "<ld", "<d.l.", "b.d.l.", "bld", "n.d.", "nd",
                     "not detected", "tr", "tr.", "trace", "l.d.", "<l.d."], "below"),
    **dict.fromkeys([">", "or", "o.r.", "over range", ">ul", "a.u.l."], "above"),
}
FLAG_MEANINGS = ("below", "above", "missing")
#: blank cells of coordinate and campaign columns
_NA_TOKENS = frozenset(["", "na", "n/a", "#n/a", "nan", "null", "none", "-", "--"])
# -99 ... -9999999: no lab has such a detection limit; these are missing codes
_NINES = np.array([99.0, 999.0, 9999.0, 99999.0, 999999.0, 9999999.0])
_NUMBER = r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"


@dataclass
class ParsedValues:
    """One column read as numbers: value (column unit), cell status, detection limit."""

    values: np.ndarray
    status: np.ndarray
    limits: np.ndarray
    raw: pd.Series = field(repr=False)


def text_flag_table(extra=None):
    """TEXT_FLAGS updated by the config's ``prepare.text_flags`` ({flag: below|above|missing})."""
    table = dict(TEXT_FLAGS)
    for flag, meaning in (extra or {}).items():
        if meaning not in FLAG_MEANINGS:
            raise InputError(f"prepare.text_flags: {flag!r} maps to {meaning!r}; use one of "
                             f"{', '.join(FLAG_MEANINGS)}", column="text_flags")
        table[str(flag).strip().lower()] = meaning
    return table


def parse_values(raw, missing_codes=DEFAULT_MISSING_CODES, text_flags=None):
    """Classify the cells of one column (see the status constants) and read numbers and limits.
    ``text_flags``: {lower-case flag: below|above|missing}, default TEXT_FLAGS."""
    flags = TEXT_FLAGS if text_flags is None else text_flags
    raw = raw.reset_index(drop=True)
    n = len(raw)
    numeric_codes = np.array([float(c) for c in missing_codes if _is_number(c)], dtype=float)
    text_codes = {str(c).strip().lower() for c in missing_codes if not _is_number(c)}
    status = np.full(n, VALID, dtype=np.int8)
    limits = np.full(n, np.nan)
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype=float, na_value=np.nan, copy=True)
        status[np.isnan(values)] = EMPTY
    else:
        values = _to_float(raw)
        unparsed = np.flatnonzero(np.isnan(values))
        if len(unparsed):
            _classify_text(raw.iloc[unparsed], unparsed, text_codes, values, status, limits, flags)
    number = ~np.isnan(values) & (status == VALID)
    status[number & np.isinf(values)] = NON_FINITE
    number &= np.isfinite(values)
    status[number & np.isin(values, numeric_codes)] = CODE
    number &= status == VALID
    status[number & np.isin(-values, _NINES)] = CODE_GUESSED
    number &= status == VALID
    below = number & (values < 0)
    status[below] = BELOW
    limits[below] = -values[below]
    status[number & (values == 0)] = BELOW_UNKNOWN
    values[status != VALID] = np.where(status[status != VALID] == ABOVE, values[status != VALID], np.nan)
    return ParsedValues(values, status, limits, raw)


def _to_float(raw):
    """Numbers from text cells, NaN where a cell is no number."""
    try:
        # all-numeric columns (the common case) convert several times faster this way
        return raw.to_numpy(dtype=object).astype(np.float64)
    except (TypeError, ValueError):
        return pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan, copy=True)


def _classify_text(strings, positions, text_codes, values, status, limits, flags):
    text = strings.astype(str).str.strip()
    lower = text.str.lower().to_numpy(dtype=object)
    meaning = np.array([flags.get(v, "") for v in lower], dtype=object)
    # a code the config lists (prepare.missing_codes) is counted as such, even where the flag table knows it
    is_code = np.isin(lower, list(text_codes)) & ~strings.isna().to_numpy()
    is_blank = (np.isin(lower, list(_NA_TOKENS)) | strings.isna().to_numpy()) & ~is_code
    is_na = (meaning == "missing") & ~is_code & ~is_blank
    below_number = pd.to_numeric(text.str.extract(rf"^<\s*=?\s*{_NUMBER}$", expand=False), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)
    above_number = pd.to_numeric(text.str.extract(rf"^>\s*=?\s*{_NUMBER}$", expand=False), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)
    is_below_token = meaning == "below"
    cls = np.full(len(positions), TEXT, dtype=np.int8)
    cls[meaning == "above"] = ABOVE_NO_VALUE
    cls[~np.isnan(above_number)] = ABOVE
    cls[~np.isnan(below_number)] = BELOW
    cls[(~np.isnan(below_number) & (below_number == 0)) | is_below_token] = BELOW_UNKNOWN
    cls[is_na] = FLAGGED_MISSING
    cls[is_blank] = EMPTY
    cls[is_code] = CODE
    status[positions] = cls
    limits[positions] = np.where(cls == BELOW, np.abs(below_number), np.nan)
    values[positions] = np.where(cls == ABOVE, above_number, np.nan)


def _is_number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def replace_below_detection(parsed, rule="half"):
    """Values with censored cells replaced by the rule; returns (values, proxy limit for unknown limits)."""
    factor = DETECTION_LIMIT_RULES[rule][0]
    values = parsed.values.copy()
    below = parsed.status == BELOW
    unknown = parsed.status == BELOW_UNKNOWN
    proxy = np.nan
    if unknown.any():
        known = parsed.limits[below]
        measured = parsed.values[(parsed.status == VALID) & (parsed.values > 0)]
        proxy = known.min() if known.size else (measured.min() if measured.size else np.nan)
    values[below] = parsed.limits[below] * factor
    values[unknown] = proxy * factor
    return values, proxy


def _zeros(parsed, zero_means):
    """Numeric zeros of one column: with ``zero_means`` 'missing', set to a
    (forced) missing code in place. Returns (zeros, whether the column writes
    explicit limits elsewhere)."""
    zero = (parsed.status == BELOW_UNKNOWN) & (_to_float(parsed.raw) == 0)
    if zero_means == "missing":
        parsed.status[zero] = CODE
        parsed.values[zero] = np.nan
    return int(zero.sum()), bool((parsed.status == BELOW).any())


def _guess_codes(parsed, column, row_numbers):
    """Mark the cells of one parsed column that value_screens.guess_codes takes
    for missing-value codes (in place); their report, with the first rows."""
    numbers = _to_float(parsed.raw)
    hits, report = guess_codes(numbers, parsed.status == VALID)
    parsed.status[hits] = CODE_GUESSED
    parsed.values[hits] = np.nan
    for item in report:
        at = hits[numbers[hits] == item["value"]][:5]
        item.update(column=column, first_rows=[int(row_numbers[i]) for i in at])
    # the -99 ... -9999999 codes parse_values guesses are reported beside them
    nines = (parsed.status == CODE_GUESSED) & (numbers < 0)
    for value in np.unique(numbers[nines]):
        at = np.flatnonzero(nines & (numbers == value))
        report.append({"value": float(value), "rows": int(at.size), "rule": "-99 ... -9999999: no lab's detection limit",
                       "column": column, "first_rows": [int(row_numbers[i]) for i in at[:5]]})
    return report


def _as_text(series):
    """Readable strings: integers without '.0', dates as ISO dates, missing as ''."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        text = series.dt.strftime("%Y-%m-%d")
        has_time = series.notna() & (series != series.dt.normalize())
        text = text.where(~has_time, series.dt.strftime("%Y-%m-%dT%H:%M:%S"))
        return text.fillna("").astype(object)
    if pd.api.types.is_float_dtype(series.dtype):
        return series.map(lambda v: "" if pd.isna(v) else (f"{v:.0f}" if float(v).is_integer() else repr(float(v))))
    return series.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA
                      else str(v).strip()).astype(object)


def _round(value):
    """A float without unit-conversion noise (0.003 * 1000 -> 3.0), for the QA report."""
    return float(f"{float(value):.12g}")


def _plain(value):
    return value.item() if hasattr(value, "item") else value
