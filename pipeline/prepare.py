"""The prepare stage: raw survey and known sites -> clean points in a projected CRS plus a QA dict.

Every change is counted in the QA dict (it becomes qa.json):
- rows with unusable coordinates (missing, not numbers, not finite, outside
  the CRS's area of use, or spatial outliers far from all other samples) are
  rejected and listed by row number (CSV: spreadsheet rows, header = row 1;
  vector: feature number from 1);
- missing codes, empty cells, NA and text become missing, counted per element
  (text with example rows);
- detection-limit values (negative numbers, ``<0.5``) are replaced by a rule;
  a zero, a bare ``<`` or ``BDL`` is below a limit the file does not give, and
  the smallest limit (else the smallest measured value) of that column stands
  in for it;
- ``>1000`` (above the upper limit) keeps 1000 and is counted;
- an element in several columns (Au_ppb and Au_ppm) takes, row by row, a measured value before a
  censored one (``>5`` gives way to the exact re-assay); where both twins are measured their median
  ratio must lie within TWIN_RATIO_LIMIT, else a unit is mislabelled and the stage stops (twin_columns);
- decimal commas (``0,54``) are read as decimal points and counted (decimal_commas; survey_io.read_table);
- values over 100 % after unit conversion become missing and are counted;
- with a campaign column (the company report of each row), censored codes are
  reported per element and campaign, and censored values are put on one level
  per element (harmonise_censoring_values) so that they do not mark the campaign
  (measured values below that level's limit too only with harmonise_below_limit);
- rows at one location (identical input coordinates) are merged per element;
- elements with too few valid locations, or none above detection, are dropped
  with their reason; locations left with no value at all are dropped and their
  rows listed.
The element counts cover the rows whose coordinates were usable.
"""

import math
import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from .errors import InputError
from .survey_io import read_points, read_table, write_points  # noqa: F401  (part of this stage's API)
from .units import TO_PPM, canonical_unit, conversion_factor, detect_elements
from .value_screens import (DUPLICATE_TOLERANCE, OUTLIER_ACTIONS, OUTLIER_GAP, OUTLIER_Z, duplicate_conflicts,
                            gross_outliers, guess_codes)

DETECTION_LIMIT_RULES = {
    "half": (0.5, "half the detection limit"),
    "limit": (1.0, "the detection limit"),
    "sqrt2": (1 / math.sqrt(2), "the detection limit divided by sqrt(2)"),
    "zero": (0.0, "zero"),
    "missing": (np.nan, "missing"),
}
DUPLICATE_RULES = ("median", "mean", "first", "error")
DEFAULT_MISSING_CODES = (-9999,)
UNKNOWN_CAMPAIGN = "unknown"
HARMONISE_RULE = (
    "per element, every censored value is set to detection_limit_rule applied to the largest detection limit "
    "seen (any campaign, in the element's unit), before locations are merged, so that the censored value does "
    "not mark the campaign; with below_limit also every measured value below that limit, so that a lower lab "
    "limit does not mark it either (off by default: it erases genuine low-level variation)")

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
_COORD_HINTS = ("x", "y", "lon", "lat", "long", "longitude", "latitude", "east", "north", "easting", "northing")
#: the config keys a user changes, named in error messages (the sites file has its own)
SAMPLE_KEYS = {"crs": "crs", "x_column": "x_column", "y_column": "y_column", "working_crs": "working_crs"}
SITE_KEYS = {"crs": "sites_crs", "x_column": "sites_x_column", "y_column": "sites_y_column",
             "working_crs": "working_crs"}


@dataclass
class ParsedValues:
    """One column read as numbers: value (column unit), cell status, detection limit."""

    values: np.ndarray
    status: np.ndarray
    limits: np.ndarray
    raw: pd.Series = field(repr=False)


@dataclass
class Points:
    """Usable coordinates of a table's rows (NaN where rejected) and what was rejected."""

    x_in: np.ndarray
    y_in: np.ndarray
    x: np.ndarray
    y: np.ndarray
    ok: np.ndarray
    rejected: list
    crs_in: pyproj.CRS
    crs_out: pyproj.CRS
    qa: dict


# ---------------------------------------------------------------- values

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


# ---------------------------------------------------------------- coordinates

def utm_crs_for(lon, lat):
    """WGS 84 / UTM zone holding (lon, lat), as 'EPSG:326zz' (north) or 'EPSG:327zz' (south)."""
    lon = ((float(lon) + 180.0) % 360.0) - 180.0
    lat = float(lat)
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    # the two exceptions of the UTM grid: south-west Norway and Svalbard
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32
    elif 72.0 <= lat < 84.0 and 0.0 <= lon < 42.0:
        zone = 31 if lon < 9.0 else 33 if lon < 21.0 else 35 if lon < 33.0 else 37
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def locate_points(table, *, x_column="X", y_column="Y", crs=None, working_crs=None, area_margin=1.0,
                  outlier_factor=None, keys=None):
    """Read, check and project the coordinates of every row of ``table`` (from read_table).

    outlier_factor: reject points farther from the median location than this many times the median
    distance to it (a dropped digit puts a sample hundreds of km away, yet inside a UTM zone); None: off.
    keys: the config keys named in error messages (SAMPLE_KEYS, the default, or SITE_KEYS).
    """
    keys = {**SAMPLE_KEYS, **(keys or {})}
    path = table.attrs.get("path")
    offset = table.attrs.get("row_offset", 2)
    x_col, y_col, source = _coordinate_columns(table, x_column, y_column, keys)
    coordinates = {"x_column": x_col, "y_column": y_col, "source": source}
    if source == "geometry" and x_column is not None:
        coordinates["note"] = f"no columns {x_column!r}/{y_column!r} in the file: the point geometry is used"
    crs_in, crs_note = _input_crs(table, crs, source, keys)
    rejected = {}

    x_in = _coordinate_values(table[x_col], x_col if source == "columns" else "geometry", rejected)
    y_in = _coordinate_values(table[y_col], y_col if source == "columns" else "geometry", rejected)
    finite = np.isfinite(x_in) & np.isfinite(y_in)
    if not finite.any():
        raise InputError(f"no row has numeric coordinates in {x_col!r} and {y_col!r}"
                         f"{_unreadable_example(table, x_col, y_col, offset, keys)}", path=path, column=x_col)
    _check_plausible(x_in[finite], y_in[finite], crs_in, path, x_col, y_col, keys)

    lon, lat = _lonlat(x_in, y_in, crs_in, finite)
    # a local engineering CRS has no lon/lat: nothing to check against
    area = crs_in.area_of_use if (crs_in.is_geographic or crs_in.geodetic_crs is not None) else None
    inside = finite.copy()
    if crs_in.is_geographic:
        out_of_range = finite & ((np.abs(x_in) > 180) | (np.abs(y_in) > 90))
        _reject(rejected, out_of_range, "outside longitude -180..180 / latitude -90..90", "geometry" if
                source == "geometry" else f"{x_col}, {y_col}")
        inside &= ~out_of_range
    if area is not None:
        outside = inside & ~_in_area(lon, lat, area.bounds, area_margin)
        w, s, e, n = area.bounds
        _reject(rejected, outside, f"outside the area of use of {_crs_name(crs_in)} "
                f"(lon {w}..{e}, lat {s}..{n}) by more than {area_margin} degrees",
                "geometry" if source == "geometry" else f"{x_col}, {y_col}")
        inside &= ~outside
    if not inside.any():
        bounds = f" (lon {area.bounds[0]}..{area.bounds[2]}, lat {area.bounds[1]}..{area.bounds[3]})" if area else ""
        raise InputError(f"no row has coordinates inside the area of use of {_crs_name(crs_in)}{bounds}; the data "
                         f"span x {x_in[finite].min():g}..{x_in[finite].max():g}, y {y_in[finite].min():g}.."
                         f"{y_in[finite].max():g}: {_crs_advice(x_in[finite], y_in[finite], crs_in, area_margin, keys)}",
                         path=path, column=x_col, rows=[int(r) for r in np.flatnonzero(finite)[:10] + offset])

    crs_out, out_source = _working_crs(working_crs, lon[inside], lat[inside], path, crs_in)
    transformer = pyproj.Transformer.from_crs(crs_in, crs_out, always_xy=True)
    x = np.full(len(table), np.nan)
    y = np.full(len(table), np.nan)
    x[inside], y[inside] = transformer.transform(x_in[inside], y_in[inside])
    failed = inside & ~(np.isfinite(x) & np.isfinite(y))
    _reject(rejected, failed, f"cannot be projected to {_crs_name(crs_out)}", f"{x_col}, {y_col}")
    ok = inside & ~failed
    if not ok.any():
        raise InputError(f"no row can be projected to {_crs_name(crs_out)}", path=path, column=x_col)

    outside_out = 0
    if crs_out.area_of_use is not None and np.isfinite(lon[ok]).all():
        outside_out = int((ok & ~_in_area(lon, lat, crs_out.area_of_use.bounds, area_margin)).sum())
        if outside_out == int(ok.sum()):
            suggestion = utm_crs_for(_mean_lon(lon[ok]), float(np.mean(lat[ok])))
            raise InputError(f"every point lies outside the area of use of the working CRS {_crs_name(crs_out)}; "
                             f"use a projected CRS for the data's region, e.g. {suggestion}",
                             path=path, column="working_crs")
    outliers = _spatial_outliers(x, y, ok, outlier_factor)
    _reject(rejected, outliers, f"more than {outlier_factor} times the median distance from the median location "
            "of the points (a spatial outlier: check for a dropped digit or swapped coordinates)", f"{x_col}, {y_col}")
    ok &= ~outliers
    x[~ok] = np.nan
    y[~ok] = np.nan

    rows = _rejection_list(rejected, table, x_col, y_col, offset)
    qa = {
        "coordinates": coordinates,
        "crs_in": _crs_name(crs_in),
        "crs_out": _crs_name(crs_out),
        "crs_out_source": out_source,
        "area_margin_degrees": area_margin,
        "points_outside_working_crs_area": outside_out,
        "outlier_factor": outlier_factor,
    }
    if crs_note:
        qa["crs_in_note"] = crs_note
    return Points(x_in, y_in, x, y, ok, rows, crs_in, crs_out, qa)


def _spatial_outliers(x, y, ok, factor):
    outliers = np.zeros(len(x), dtype=bool)
    if factor is None or ok.sum() < 10:
        return outliers
    cx, cy = np.median(x[ok]), np.median(y[ok])
    distance = np.hypot(x - cx, y - cy)
    typical = np.median(distance[ok])
    if typical > 0:  # more than half the points at one place: no scale to judge by
        outliers[ok] = distance[ok] > factor * typical
    return outliers


def _crs_advice(x, y, crs_in, margin, keys):
    """The one most likely fix for coordinates outside their CRS's area of use, tried in a fixed order:
    x and y exchanged, then a neighbouring UTM zone (nearest first)."""
    from .site_offsets import _utm_neighbours

    def fits(xs, ys, crs):
        area = crs.area_of_use
        if area is None:
            return False
        lon, lat = _lonlat(xs, ys, crs, np.ones(len(xs), bool))
        return bool(_in_area(lon, lat, area.bounds, margin).all())

    if fits(y, x, crs_in):
        return (f"read as given they are not in {_crs_name(crs_in)}, with x and y exchanged they are: swap "
                f"{keys['x_column']} and {keys['y_column']}")
    for code in _utm_neighbours(crs_in):
        if fits(x, y, pyproj.CRS.from_epsg(code)):
            return (f"they fit EPSG:{code}, a neighbouring UTM zone: set {keys['crs']}: EPSG:{code} if the file is "
                    "in that zone")
    return f"check {keys['crs']} (the CRS of the coordinates)"


def _coordinate_columns(table, x_column, y_column, keys=SAMPLE_KEYS):
    gx, gy = table.attrs.get("geometry_x"), table.attrs.get("geometry_y")
    columns = [str(c) for c in table.columns if c not in (gx, gy)]
    path = table.attrs.get("path")
    has_geometry = gx is not None
    if x_column is None and y_column is None:
        if not has_geometry:
            raise InputError(f"no point geometry: set {keys['x_column']} and {keys['y_column']} to the "
                             "coordinate columns; "
                             f"columns in the file: {', '.join(columns)}", path=path)
        return _geometry_columns(table, keys)
    if has_geometry and x_column not in table.columns and y_column not in table.columns:
        return _geometry_columns(table, keys)
    for name, key in ((x_column, keys["x_column"]), (y_column, keys["y_column"])):
        if name is None or name not in table.columns:
            hints = [c for c in columns if c.lower() in _COORD_HINTS]
            hint = f" (coordinate-like columns: {', '.join(hints)})" if hints else ""
            raise InputError(f"coordinate column not found{hint}: set the dataset's {key} to the column that "
                             f"holds it; columns in the file: {', '.join(columns)}", path=path, column=name)
    return x_column, y_column, "columns"


def _geometry_columns(table, keys=SAMPLE_KEYS):
    geometry_type = table.attrs.get("geometry_type") or "no"
    if "point" not in str(geometry_type).lower():
        raise InputError(f"layer {table.attrs.get('layer')!r} has {geometry_type} geometry, not points: "
                         f"give {keys['x_column']} and {keys['y_column']}, or convert the layer to points",
                         path=table.attrs.get("path"))
    return table.attrs["geometry_x"], table.attrs["geometry_y"], "geometry"


def _input_crs(table, crs, source, keys=SAMPLE_KEYS):
    path = table.attrs.get("path")
    file_crs = table.attrs.get("crs")
    given = _parse_crs(crs, path, keys["crs"]) if crs is not None else None
    note = None
    if source == "geometry" and file_crs is not None:
        found = _parse_crs(file_crs, path, "crs")
        if given is not None and not given.equals(found):
            note = f"the file declares {_crs_name(found)}; it is used instead of the configured {_crs_name(given)}"
        return found, note
    if given is not None:
        return given, note
    if file_crs is not None:
        return _parse_crs(file_crs, path, "crs"), note
    raise InputError(f"no CRS for the coordinates: set {keys['crs']} (e.g. EPSG:4326 for longitude/latitude)",
                     path=path, column=keys["crs"])


def _parse_crs(value, path, key):
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as exc:
        raise InputError(f"{key} {value!r} is not a CRS pyproj knows ({exc})", path=path, column=key) from None


def _crs_name(crs):
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_string()


def _coordinate_values(raw, column, rejected):
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype=float, na_value=np.nan, copy=True)
        missing = np.isnan(values)
        text = np.zeros(len(values), dtype=bool)
    else:
        values = _to_float(raw)
        blank = raw.isna().to_numpy() | raw.astype(str).str.strip().str.lower().isin(_NA_TOKENS).to_numpy()
        missing = np.isnan(values) & blank
        text = np.isnan(values) & ~blank
    _reject(rejected, missing, "no point geometry" if column == "geometry" else "missing coordinate", column)
    _reject(rejected, text, "coordinate is not a number", column)
    _reject(rejected, np.isinf(values), "coordinate is not finite", column)
    return np.where(np.isfinite(values), values, np.nan)


def _unreadable_example(table, x_col, y_col, offset, keys=SAMPLE_KEYS):
    """': row 2 has X '411,826'; ...' -- one cell that is no number, and its likely cause."""
    for column in dict.fromkeys((x_col, y_col)):
        raw = table[column]
        if pd.api.types.is_numeric_dtype(raw.dtype):
            continue
        text = raw.astype(str).str.strip()
        bad = np.isnan(_to_float(raw)) & ~(raw.isna().to_numpy() | text.str.lower().isin(_NA_TOKENS).to_numpy())
        if not bad.any():
            continue
        i = int(np.flatnonzero(bad)[0])
        return f" (row {i + offset} has {column} {text.iloc[i]!r}){_number_hint(text.iloc[i])}"
    return (f"; every coordinate cell is empty: check that {keys['x_column']}/{keys['y_column']} name the "
            "coordinate columns")


def _number_hint(cell):
    """The likely reason a cell that looks numeric is no number (separators, decimal commas)."""
    cell = str(cell).strip()
    if re.fullmatch(r"[+-]?\d{1,3}([ ,'\u00a0\u202f]\d{3})+(\.\d+)?", cell):
        return (": it looks like a number with thousands separators; export the file without them "
                "(411826, not 411,826 or 411 826)")
    if re.fullmatch(r"[+-]?\d+,\d+", cell):
        return (": it looks like a number with a decimal comma; give decimal: \",\" for this dataset, or export "
                "with decimal points")
    if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d+", cell):
        return ": it looks like a number with '.' thousands separators and a decimal comma; give decimal: \",\""
    return ": the likely cause is thousands separators or decimal commas (1,234.5 or 0,54) in the coordinates"


def _reject(rejected, mask, reason, column):
    for position in np.flatnonzero(mask):
        rejected.setdefault(int(position), (reason, column))


def _rejection_list(rejected, table, x_col, y_col, offset):
    xs, ys = table[x_col], table[y_col]
    rows = []
    for position in sorted(rejected):
        reason, column = rejected[position]
        shown = f"{_show(xs.iloc[position])}, {_show(ys.iloc[position])}"
        rows.append({"row": position + offset, "reason": reason, "column": column,
                     "value": "" if shown == ", " else shown})
    return rows


def _show(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _check_plausible(x, y, crs, path, x_col, y_col, keys=SAMPLE_KEYS):
    if crs.is_projected and np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 90):
        raise InputError(
            f"{x_col!r}/{y_col!r} look like longitude/latitude in degrees (all |x| <= 180, |y| <= 90), but crs "
            f"{_crs_name(crs)} is projected in {crs.axis_info[0].unit_name}s; set {keys['crs']} to the geographic "
            "CRS of "
            "the data, e.g. EPSG:4326 (WGS 84), EPSG:4283 (GDA94) or EPSG:4258 (ETRS89)",
            path=path, column=x_col)
    if crs.is_geographic and not np.any((np.abs(x) <= 180) & (np.abs(y) <= 90)):
        if np.all(np.abs(y) <= 180) and np.all(np.abs(x) <= 90):
            hint = f"they look swapped: set {keys['x_column']} to {y_col!r} and {keys['y_column']} to {x_col!r}"
        else:
            hint = (f"they look like projected coordinates: set {keys['crs']} to the projected CRS of the data "
                    "(e.g. EPSG:326zz for UTM)")
        raise InputError(f"no row has longitude/latitude in range for the geographic crs {_crs_name(crs)}; {hint}",
                         path=path, column=x_col)


def _lonlat(x, y, crs, finite):
    if crs.is_geographic:
        return x.copy(), y.copy()
    lon = np.full(len(x), np.nan)
    lat = np.full(len(x), np.nan)
    geodetic = crs.geodetic_crs
    if geodetic is None:
        return lon, lat
    transformer = pyproj.Transformer.from_crs(crs, geodetic, always_xy=True)
    lon[finite], lat[finite] = transformer.transform(x[finite], y[finite])
    return lon, lat


def _in_area(lon, lat, bounds, margin):
    west, south, east, north = bounds
    with np.errstate(invalid="ignore"):
        in_lat = (lat >= south - margin) & (lat <= north + margin)
        if west <= east:
            in_lon = (lon >= west - margin) & (lon <= east + margin)
        else:  # the area crosses the antimeridian
            in_lon = (lon >= west - margin) | (lon <= east + margin)
    return in_lat & in_lon & np.isfinite(lon)


def _mean_lon(lon):
    radians = np.radians(lon)
    return float(np.degrees(np.arctan2(np.sin(radians).mean(), np.cos(radians).mean())))


def _working_crs(working_crs, lon, lat, path, crs_in):
    """The CRS the points are projected to, and where it came from.

    Unset working_crs keeps an input CRS that is already projected in metres (a national grid such as
    EPSG:3067 is made for its region: reprojecting to a UTM zone would only add distortion and make the
    outputs disagree with the user's other layers); geographic input, or a projection in other units,
    gets the UTM zone of the data.
    """
    if working_crs is None:
        if _is_metric_projection(crs_in):
            return crs_in, "input CRS, projected in metres (working_crs not set)"
        if not np.isfinite(lon).any():
            raise InputError("cannot find the UTM zone of the data: set working_crs", path=path, column="working_crs")
        ok = np.isfinite(lon)
        code = utm_crs_for(_mean_lon(lon[ok]), float(np.mean(lat[ok])))
        return pyproj.CRS.from_user_input(code), "UTM zone of the data's lon/lat centroid (working_crs not set)"
    crs = _parse_crs(working_crs, path, "working_crs")
    if not _is_metric_projection(crs):
        raise InputError(f"working_crs {_crs_name(crs)} must be a projected CRS in metres (leave it unset to keep "
                         "a projected input CRS in metres, else the UTM zone of the data)",
                         path=path, column="working_crs")
    return crs, "config"


def _is_metric_projection(crs):
    return bool(crs.is_projected) and crs.axis_info[0].unit_name in ("metre", "meter")


# ---------------------------------------------------------------- samples

def prepare_samples(path, *, x_column="X", y_column="Y", crs=None, working_crs=None, layer=None, elements=None,
                    units=None, output_units=None, missing_codes=DEFAULT_MISSING_CODES,
                    detection_limit_rule="half", duplicate_rule="median", min_valid=30, min_valid_fraction=0.0,
                    area_margin=1.0, outlier_factor=10.0, campaign_column=None, harmonise_censoring=None,
                    harmonise_below_limit=False, decimal=None, text_flags=None, guess_missing_codes=True,
                    outliers="cap", outlier_z=OUTLIER_Z, outlier_gap=OUTLIER_GAP,
                    duplicate_tolerance=DUPLICATE_TOLERANCE, encoding=None, zero_means="below", id_column=None):
    """Clean a geochemical survey: one row per distinct location, one float column per kept element.

    Returns (GeoDataFrame with x, y, n_merged, [campaign,] elements..., geometry in the working CRS; qa dict).
    ``gdf.attrs["units"]`` maps each element to its unit. For vector files the point geometry is used
    unless x_column/y_column name columns of the file (x_column=None forces the geometry).

    crs: CRS of the coordinates (a vector file's own CRS wins for its geometry); working_crs: projected
    CRS in metres, None = the input CRS if it is projected in metres, else the UTM zone of the data.
    elements: None (all detected), a list of elements or columns, or {element: column(s)}; units /
    output_units: see pipeline.units. missing_codes: numbers or strings meaning "not analysed".
    detection_limit_rule: half | limit | sqrt2 | zero | missing.
    duplicate_rule: median | mean | first (first non-missing, in file order). min_valid /
    min_valid_fraction: fewest valid locations (count / share of locations) an element needs.
    area_margin: degrees of tolerance around the input CRS's area of use. outlier_factor: see
    locate_points (None: off).

    campaign_column: column naming the campaign (company report, lab batch) of each row, or None. Real
    surveys are compiled from many reports, each with its own detection limits and codes, so the
    campaign is a confound: the output gains a string column ``campaign`` (a merged location takes the
    campaign most of its rows have; missing names become "unknown") and qa reports, per element and
    campaign, how censored values are coded (censoring_by_campaign). harmonise_censoring: True, False
    or None (= on when campaign_column is given); see harmonise_censoring_values(). Without a campaign
    column, True harmonises the whole survey (the common limit is the survey-wide largest one either way).
    harmonise_below_limit: with harmonising on, also set measured values below the common limit to the
    common level. Off by default: it erases genuine low-level variation (on the GSWA Katanning survey one
    32-row report with a 1 ppb Au limit would flatten 1114 measured Au values, the low-level gold signal).
    decimal: decimal mark of a delimited text file, "." / "," / None (= decide per column; see
    pipeline.survey_io.read_table); cells read with a decimal comma are counted in qa["decimal_commas"].
    text_flags: {flag: below|above|missing} added to TEXT_FLAGS. guess_missing_codes: screen each column
    for codes the config does not list (pipeline.value_screens.guess_codes). outliers: cap | exclude |
    keep the gross outliers (value_screens.gross_outliers, with outlier_z and outlier_gap); cap by
    default: a genuine nugget and a typing error look alike from the numbers alone, and capping at the
    largest value kept leaves a real high sample the highest of its element while a unit error no longer
    sets the element's scale. duplicate_tolerance: rows merged into one location whose values differ by
    more than this (relative) are counted as conflicting; duplicate_rule "error" stops on them.
    encoding: of a delimited text file, None = detect (survey_io.read_table). zero_means: "below" (a zero
    is below a limit the cell does not give) or "missing" (the lab's "not analysed"); qa counts the zeros
    of columns that also write explicit limits (zeros_beside_limits), where the choice matters. id_column:
    the sample IDs; rows sharing one at different locations are counted and listed (duplicate_rule
    "error" stops on them).
    """
    _check_options(detection_limit_rule, duplicate_rule, min_valid, min_valid_fraction)
    if missing_codes is None:
        missing_codes = ()
    elif isinstance(missing_codes, (str, int, float)):
        missing_codes = (missing_codes,)
    if zero_means not in ("below", "missing"):
        raise InputError(f"prepare.zero_means must be below or missing, not {zero_means!r}", column="zero_means")
    if outliers not in OUTLIER_ACTIONS:
        raise InputError(f"prepare.outliers must be one of {', '.join(OUTLIER_ACTIONS)}, not {outliers!r}",
                         column="outliers")
    flags = text_flag_table(text_flags)
    table = read_table(path, layer=layer, decimal=decimal, encoding=encoding)
    if len(table) == 0:
        raise InputError("no data rows (the file has a header only)", path=path)
    _check_campaign_column(table, campaign_column, path)
    if id_column is not None and id_column not in table.columns:
        raise InputError(f"id_column {id_column!r} is not a column of the samples (columns: "
                         f"{', '.join(table.columns)}): set the dataset's id_column to the sample-ID column, or null",
                         path=path, column=id_column)
    harmonise = campaign_column is not None if harmonise_censoring is None else bool(harmonise_censoring)
    offset = table.attrs["row_offset"]
    points = locate_points(table, x_column=x_column, y_column=y_column, crs=crs, working_crs=working_crs,
                           area_margin=area_margin, outlier_factor=outlier_factor)
    geometry_columns = {table.attrs.get("geometry_x"), table.attrs.get("geometry_y")} - {None}
    coordinate_columns = {points.qa["coordinates"]["x_column"], points.qa["coordinates"]["y_column"]}
    campaign_columns = {campaign_column} - {None}
    try:
        columns = detect_elements(table.columns, mapping=elements or None, units=units,
                                  exclude=coordinate_columns | geometry_columns | campaign_columns)
    except InputError as exc:
        raise _with_path(exc, path) from None
    if not columns:
        raise InputError("no element columns found: name them like Au_ppm, Cu_ppb, Fe2O3_pct (or plain Au with "
                         f"units in the config), or list them under elements; columns: {', '.join(table.columns)}",
                         path=path)

    kept_rows = np.flatnonzero(points.ok)
    rows = table.iloc[kept_rows].reset_index(drop=True)
    row_numbers = kept_rows + offset
    variables = _clean_elements(rows, columns, row_numbers, missing_codes, detection_limit_rule, output_units,
                                requested=bool(elements), path=path, flags=flags, guess=guess_missing_codes,
                                zero_means=zero_means)
    outlier_report = _screen_outliers(variables, row_numbers, outliers, outlier_z, outlier_gap)
    campaign, campaign_missing = _campaign_labels(rows[campaign_column]) if campaign_column else (None, 0)
    censoring = censoring_by_campaign(variables, campaign) if campaign is not None else None
    # before locations are merged: a median of a harmonised and an unharmonised row would mark the campaign
    harmonised = (harmonise_censoring_values(variables, detection_limit_rule, below_limit=harmonise_below_limit)
                  if harmonise else None)

    location_id = pd.DataFrame({"x": points.x_in[kept_rows], "y": points.y_in[kept_rows]}).groupby(
        ["x", "y"], sort=False).ngroup().to_numpy()
    n_merged = np.bincount(location_id)
    values = pd.DataFrame({name: var["values"] for name, var in variables.items()})
    duplicates = _duplicate_report(location_id, values, row_numbers, duplicate_tolerance, duplicate_rule, path)
    duplicates.update(_same_id_elsewhere(rows[id_column] if id_column else None, location_id, row_numbers,
                                         duplicate_rule, path, id_column))
    if len(n_merged) == len(location_id) and (location_id == np.arange(len(location_id))).all():
        merged = values  # every location sampled once: nothing to merge
    else:
        merged = values.groupby(location_id, sort=True).agg("median" if duplicate_rule == "error" else duplicate_rule)
    first_row = np.unique(location_id, return_index=True)[1]
    n_locations = len(n_merged)

    kept, dropped = {}, {}
    for name, var in variables.items():
        n_valid = int(merged[name].notna().sum())
        reason = _drop_reason(var, n_valid, n_locations, min_valid, min_valid_fraction)
        entry = {"unit": var["unit"], "source_columns": var["sources"], "valid_locations": n_valid}
        if reason is None:
            kept[name] = entry
        else:
            if bool(elements) and n_valid == 0:
                raise InputError(f"requested element {name!r} has no valid values: {reason}", path=path,
                                 column=", ".join(s["column"] for s in var["sources"]))
            dropped[name] = {"reason": reason, **entry}
    if not kept:
        reasons = "; ".join(f"{k}: {v['reason']}" for k, v in dropped.items())
        raise InputError(f"no element has enough valid values ({reasons})", path=path)

    merged = merged[list(kept)]
    has_value = merged.notna().any(axis=1).to_numpy()
    empty_locations = np.flatnonzero(~has_value)
    rejections = list(points.rejected)
    if len(empty_locations):
        empty_rows = np.flatnonzero(np.isin(location_id, empty_locations))
        rejections += [{"row": int(row_numbers[i]), "reason": "no valid value in any kept element", "column": None,
                        "value": ""} for i in empty_rows]
        rejections.sort(key=lambda r: r["row"])

    x = points.x[kept_rows][first_row][has_value]
    y = points.y[kept_rows][first_row][has_value]
    frame = pd.DataFrame({"x": x, "y": y, "n_merged": n_merged[has_value].astype(np.int64)})
    campaign_qa = None
    if campaign is not None:
        location_campaign, mixed = _location_campaigns(location_id, campaign)
        frame["campaign"] = location_campaign[has_value]
        campaign_qa = _campaign_qa(campaign_column, campaign, campaign_missing, mixed[has_value])
    for name in kept:
        frame[name] = merged[name].to_numpy(dtype=float)[has_value]
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(x, y), crs=points.crs_out)
    gdf.attrs["units"] = {name: entry["unit"] for name, entry in kept.items()}

    used = coordinate_columns | geometry_columns | campaign_columns | {c.column for c in columns}
    qa = {
        "file": str(path),
        "layer": table.attrs.get("layer"),
        "row_numbering": table.attrs["row_numbering"],
        "rows_read": len(table),
        "rows_kept": int(n_merged[has_value].sum()),
        "rows_rejected": _rejection_summary(rejections),
        **points.qa,
        "missing_codes": [_plain(c) for c in missing_codes],
        "value_counts_cover": "rows with usable coordinates, before locations are merged",
        "values_missing": {k: v["missing"] for k, v in variables.items()},
        "values_below_detection": {
            "rule": detection_limit_rule,
            "replaced_by": DETECTION_LIMIT_RULES[detection_limit_rule][1],
            "limit_not_given": "a zero, a bare '<' or 'BDL' is below a limit the file does not give: the smallest "
                               "limit (else the smallest measured value) of that column, in the column's unit, "
                               "stands in for it (stand_in_limit)",
            "counts": {k: v["below"] for k, v in variables.items() if v["below"]["count"]},
        },
        "values_above_detection": {k: v["above"] for k, v in variables.items() if v["above"]},
        "values_text_to_missing": {k: v["text"] for k, v in variables.items() if v["text"]["count"]},
        "missing_codes_guessed": {
            "on": bool(guess_missing_codes),
            "rule": "a positive value repeated at >= 2 rows and >= 100 x the column's 99th percentile of its "
                    "other values (10 x for 99, 999, ... 9999999), or a -99 .. -9999999 value (pipeline.value_screens.guess_codes); "
                    "prepare.missing_codes forces codes, prepare.guess_missing_codes: false turns this off",
            "elements": {k: v["codes_guessed"] for k, v in variables.items() if v["codes_guessed"]},
        },
        "zeros": {
            "means": zero_means,
            "rule": "below: a zero is below a limit the cell does not give; missing: the lab's 'not analysed' "
                    "(prepare.zero_means)",
            "beside_explicit_limits": {k: v["zeros_beside_limits"] for k, v in variables.items()
                                       if v["zeros_beside_limits"]},
        },
        "gross_outliers": outlier_report,
        "text_flags": {"rule": "TEXT_FLAGS of pipeline.prepare, extended by prepare.text_flags",
                       "added": {str(k): v for k, v in (text_flags or {}).items()}},
        "twin_columns": {k: v["twins"] for k, v in variables.items() if v["twins"] is not None},
        **({"campaigns": campaign_qa, "censoring_by_campaign": censoring} if campaign is not None else {}),
        "harmonise_censoring": {
            "setting": harmonise_censoring,
            "on": harmonise,
            "below_limit": bool(harmonise_below_limit),
            "rule": HARMONISE_RULE,
        },
        **({"harmonised_censoring": harmonised} if harmonise else {}),
        "locations_merged": {
            "rule": duplicate_rule,
            "rows": int(len(kept_rows)),
            "locations": int(n_locations),
            "locations_with_repeats": int((n_merged > 1).sum()),
            "rows_merged_away": int(len(kept_rows) - n_locations),
            "max_rows_at_one_location": int(n_merged.max()),
            "locations_dropped_without_values": int(len(empty_locations)),
            "locations_written": int(has_value.sum()),
            "key": "identical input coordinates",
            **duplicates,
        },
        "elements_kept": kept,
        "elements_dropped": dropped,
        "units": dict(gdf.attrs["units"]),
        "min_valid": min_valid,
        "min_valid_fraction": min_valid_fraction,
        "columns_not_used": [c for c in table.columns if c not in used],
        "columns_renamed": table.attrs.get("renamed_columns", {}),
        "decimal_commas": _decimal_qa(table),
        "encoding": {"name": table.attrs.get("encoding"), "reason": table.attrs.get("encoding_reason")},
        "layer_note": table.attrs.get("layer_note"),
        "element_summary": _element_summary(variables, merged, kept, duplicates),
    }
    return gdf, qa


def _element_summary(variables, merged, kept, duplicates):
    """Per element: rows read, censored below and above, codes removed, outliers, conflicting repeats, missing."""
    out = {}
    for name, var in variables.items():
        missing = var["missing"]
        out[name] = {
            "rows": int(len(var["values"])),
            "below_limit": int(var["below"]["count"]),
            "above_limit": int(var["above"]),
            "codes_removed": int(missing.get("missing_code", 0) + missing.get("missing_code_guessed", 0)),
            "outliers": int(var.get("outliers", 0)),
            "conflicting_repeats": int(duplicates["conflicting_locations"].get(name, 0)),
            "missing": int(missing["total"]),
            "kept": name in kept,
            "locations_with_value": int(merged[name].notna().sum()) if name in merged.columns else 0,
        }
    return out


def write_duplicates(conflicts, path, same_id=None):
    """duplicates.csv: one line per element and repeated location whose values conflict, and one per
    sample ID written at several locations (``values``: how many)."""
    from .atomic import atomic_path

    frame = pd.DataFrame([{"kind": "same location, values differ", "element": c["element"], "sample_id": "",
                           "rows": ";".join(map(str, c["rows"])), "values": c["values"], "min": c["min"],
                           "max": c["max"]} for c in conflicts]
                         + [{"kind": "same sample ID, another location", "element": "", "sample_id": c["id"],
                             "rows": ";".join(map(str, c["rows"])), "values": c["locations"], "min": None,
                             "max": None} for c in same_id or []],
                         columns=["kind", "element", "sample_id", "rows", "values", "min", "max"])
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def element_summary_lines(qa):
    """The per-element table printed at the end of prepare (a header and a line an element)."""
    header = (f"{'element':<8} {'rows':>7} {'<limit':>7} {'>limit':>7} {'codes':>6} {'outlier':>7} "
              f"{'conflict':>8} {'missing':>7}  kept")
    lines = [header]
    for name, e in qa.get("element_summary", {}).items():
        lines.append(f"{name:<8} {e['rows']:>7} {e['below_limit']:>7} {e['above_limit']:>7} {e['codes_removed']:>6} "
                     f"{e['outliers']:>7} {e['conflicting_repeats']:>8} {e['missing']:>7}  "
                     f"{'yes' if e['kept'] else 'no'}")
    return lines


def _decimal_qa(table):
    columns = table.attrs.get("decimal_commas") or {}
    return {"setting": table.attrs.get("decimal"), "separator": table.attrs.get("separator"),
            "cells_read_with_decimal_comma": int(sum(columns.values())), "columns": dict(columns)}


def _check_options(rule, duplicate_rule, min_valid, min_valid_fraction):
    if rule not in DETECTION_LIMIT_RULES:
        raise InputError(f"detection_limit_rule {rule!r} is not one of {', '.join(DETECTION_LIMIT_RULES)}",
                         column="detection_limit_rule")
    if duplicate_rule not in DUPLICATE_RULES:
        raise InputError(f"duplicate_rule {duplicate_rule!r} is not one of {', '.join(DUPLICATE_RULES)}",
                         column="duplicate_rule")
    if not isinstance(min_valid, (int, np.integer)) or min_valid < 0:
        raise InputError(f"min_valid must be a whole number >= 0, not {min_valid!r}", column="min_valid")
    if not 0.0 <= float(min_valid_fraction) <= 1.0:
        raise InputError(f"min_valid_fraction must lie in 0..1, not {min_valid_fraction!r}",
                         column="min_valid_fraction")


def _with_path(exc, path):
    prefix = str(InputError("", column=exc.column, rows=exc.rows)) if (exc.column or exc.rows) else ""
    return InputError(str(exc)[len(prefix):], path=path, column=exc.column, rows=exc.rows)


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _clean_elements(rows, columns, row_numbers, missing_codes, rule, output_units, requested, path, flags=None,
                    guess=True, zero_means="below"):
    """Per variable: canonical values per row and the counts of every repair."""
    by_name = {}
    for entry in columns:
        by_name.setdefault(entry.name, []).append(entry)
    variables = {}
    for name, entries in by_name.items():
        species = entries[0].species or name
        unit = canonical_unit(name if output_units and name in output_units else species, output_units)
        parsed = []
        guessed = []
        zeros = {}
        for entry in entries:
            p = parse_values(rows[entry.column], missing_codes, flags)
            n_zero, explicit = _zeros(p, zero_means)
            if n_zero and explicit:
                zeros[entry.column] = n_zero
            guessed += _guess_codes(p, entry.column, row_numbers) if guess else []
            values, proxy = replace_below_detection(p, rule)
            values = values * conversion_factor(entry.unit, unit)
            too_big = values * TO_PPM[unit] > 1e6  # more than 100 %
            p.status[too_big] = OUT_OF_RANGE
            values[too_big] = np.nan
            if requested and not np.isin(p.status, _HAS_VALUE).any() and (p.status == TEXT).any():
                text_at = np.flatnonzero(p.status == TEXT)[:5]
                shown = ", ".join(f"row {row_numbers[i]}: {p.raw.iloc[i]!r}" for i in text_at)
                raise InputError(f"requested element {name!r}: the column holds text and no numbers ({shown})",
                                 path=path, column=entry.column, rows=[int(r) for r in row_numbers[text_at]])
            parsed.append((entry, p, values, proxy))
        variables[name] = _combine(parsed, unit, rule, row_numbers, name=name, path=path)
        variables[name]["codes_guessed"] = guessed
        variables[name]["zeros_beside_limits"] = zeros
    return variables


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


#: twin columns of one element whose measured values differ by more than this factor (median ratio) stop
TWIN_RATIO_LIMIT = 3.0


def _combine(parsed, unit, rule, row_numbers, name=None, path=None):
    # columns with more values first; each row takes the first column with a measured value, else the
    # first with a censored one (<0.5, >5): an over-limit flag never hides an exact re-assay
    order = sorted(range(len(parsed)), key=lambda i: -int(np.isin(parsed[i][1].status, _HAS_VALUE).sum()))
    parsed = [parsed[i] for i in order]
    has = np.stack([np.isin(p.status, _HAS_VALUE) for _, p, _, _ in parsed])
    measured = np.stack([p.status == VALID for _, p, _, _ in parsed])
    first = np.where(has.any(axis=0), has.argmax(axis=0), 0)
    choice = np.where(measured.any(axis=0), measured.argmax(axis=0), first)
    take = np.arange(len(choice))
    twins = _compare_twins(parsed, measured, row_numbers, name, path) if len(parsed) > 1 else None
    status = np.stack([p.status for _, p, _, _ in parsed])[choice, take]
    values = np.stack([v for _, _, v, _ in parsed])[choice, take]
    limits = np.stack([_limits_in(p, proxy, conversion_factor(e.unit, unit))
                       for e, p, _, proxy in parsed])[choice, take]

    missing = {"total": int(np.isnan(values).sum())}
    for code, label in _MISSING_CAUSES.items():
        count = int((status == code).sum())
        if count:
            missing[label] = count
    below_known, below_unknown = int((status == BELOW).sum()), int((status == BELOW_UNKNOWN).sum())
    censored_missing = int((np.isin(status, (BELOW, BELOW_UNKNOWN)) & np.isnan(values)).sum())
    if censored_missing:
        label = "below_detection_set_missing" if rule == "missing" else "below_detection_no_limit_known"
        missing[label] = censored_missing
    below = {"count": below_known + below_unknown, "limit_given": below_known, "limit_not_given": below_unknown}
    if below_unknown:
        below["stand_in_limit"] = {e.column: _plain(proxy) for e, _, _, proxy in parsed if np.isfinite(proxy)}
    text_positions = np.flatnonzero(status == TEXT)
    examples = []
    for i in text_positions[:5]:
        entry, p, _, _ = parsed[choice[i]]
        examples.append({"row": int(row_numbers[i]), "column": entry.column, "value": str(p.raw.iloc[i])})
    sources = []
    for k, (entry, _, _, _) in enumerate(parsed):
        source = {"column": entry.column, "unit": entry.unit, "factor": conversion_factor(entry.unit, unit)}
        if entry.method:
            source["method"] = entry.method
        if len(parsed) > 1:
            source["values_used"] = int(((choice == k) & np.isin(status, _HAS_VALUE)).sum())
        sources.append(source)
    if twins is not None:
        twins["censored_replaced_by_measured"] = int((choice != first).sum())
    return {
        "twins": twins,
        "values": values,
        "limits": limits,
        "unit": unit,
        "sources": sources,
        "detected": int(((status == VALID) | (status == ABOVE)).sum()),
        "status": status,
        "missing": missing,
        "below": below,
        "above": int((status == ABOVE).sum()),
        "text": {"count": int(len(text_positions)), "examples": examples,
                 "values": _text_counts(parsed, choice, text_positions)},
    }


#: distinct unknown texts counted per element in qa.json (the most frequent first)
TEXT_VALUES_SHOWN = 20


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


def _drop_reason(var, n_valid, n_locations, min_valid, min_valid_fraction):
    n_rows = len(var["values"])
    if n_valid == 0:
        if var["text"]["count"] and var["text"]["count"] + var["missing"].get("empty_or_NA", 0) == n_rows:
            return f"no numeric values: the column holds text ({var['text']['count']} of {n_rows} rows)"
        causes = ", ".join(f"{k} {v}" for k, v in var["missing"].items() if k != "total")
        return f"no valid values: all {n_rows} rows missing ({causes})"
    if var["detected"] == 0:
        return f"no value above the detection limit ({var['below']['count']} rows below it, none measured)"
    if n_valid < min_valid:
        return f"only {n_valid} valid locations (min_valid = {min_valid})"
    if n_valid < min_valid_fraction * n_locations:
        return (f"only {n_valid} of {n_locations} locations valid ({n_valid / n_locations:.1%}, "
                f"min_valid_fraction = {min_valid_fraction:.1%})")
    return None


def _rejection_summary(rejections):
    by_reason = {}
    for r in rejections:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    return {"count": len(rejections), "by_reason": by_reason, "rows": rejections}


# ---------------------------------------------------------------- campaigns

def _check_campaign_column(table, campaign_column, path):
    if campaign_column is None or campaign_column in table.columns:
        return
    geometry = (table.attrs.get("geometry_x"), table.attrs.get("geometry_y"))
    columns = [str(c) for c in table.columns if c not in geometry]
    raise InputError(f"campaign_column {campaign_column!r} is not a column of the file; set campaign_column to "
                     f"one of: {', '.join(columns)} (or null)", path=path, column=campaign_column)


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


def _round(value):
    """A float without unit-conversion noise (0.003 * 1000 -> 3.0), for the QA report."""
    return float(f"{float(value):.12g}")


# ---------------------------------------------------------------- sites

def prepare_sites(path, *, x_column="X", y_column="Y", crs=None, working_crs=None, layer=None, area_margin=1.0,
                  decimal=None, encoding=None):
    """Known mineral sites as points in the working CRS; attributes kept as readable strings.

    Sites at identical input coordinates are merged into one point: n_merged counts them and each
    attribute joins their distinct values with '; '.
    """
    table = read_table(path, layer=layer, decimal=decimal, encoding=encoding)
    if len(table) == 0:
        raise InputError("no data rows (the file has a header only)", path=path)
    points = locate_points(table, x_column=x_column, y_column=y_column, crs=crs, working_crs=working_crs,
                           area_margin=area_margin, keys=SITE_KEYS)
    skip = {points.qa["coordinates"]["x_column"], points.qa["coordinates"]["y_column"],
            table.attrs.get("geometry_x"), table.attrs.get("geometry_y")}
    kept_rows = np.flatnonzero(points.ok)
    rows = table.iloc[kept_rows].reset_index(drop=True)
    renamed = {}
    texts = {}
    for column in table.columns:
        if column in skip:
            continue
        # GeoPackage field names ignore case
        clash = column in ("x", "y") or column.lower() in ("n_merged", "geometry")
        name = f"attr_{column}" if clash else column
        if name != column:
            renamed[column] = name
        texts[name] = _as_text(rows[column])
    attributes = pd.DataFrame(texts, index=rows.index)
    location_id = pd.DataFrame({"x": points.x_in[kept_rows], "y": points.y_in[kept_rows]}).groupby(
        ["x", "y"], sort=False).ngroup().to_numpy()
    n_merged = np.bincount(location_id)
    first_row = np.unique(location_id, return_index=True)[1]
    if (n_merged > 1).any():
        attributes = attributes.groupby(location_id, sort=True).agg(_join_distinct)
    else:
        attributes = attributes.iloc[first_row].reset_index(drop=True)
    x = points.x[kept_rows][first_row]
    y = points.y[kept_rows][first_row]
    frame = pd.DataFrame({"x": x, "y": y, "n_merged": n_merged.astype(np.int64)})
    for column in attributes.columns:
        frame[column] = attributes[column].to_numpy(dtype=object)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(x, y), crs=points.crs_out)
    qa = {
        "file": str(path),
        "layer": table.attrs.get("layer"),
        "row_numbering": table.attrs["row_numbering"],
        "rows_read": len(table),
        "rows_kept": int(len(kept_rows)),
        "rows_rejected": _rejection_summary(points.rejected),
        **points.qa,
        "locations_merged": {
            "rows": int(len(kept_rows)),
            "locations": int(len(n_merged)),
            "locations_with_repeats": int((n_merged > 1).sum()),
            "rows_merged_away": int(len(kept_rows) - len(n_merged)),
            "rule": "sites at identical input coordinates become one point; attributes join distinct values with '; '",
        },
        "attribute_columns": list(attributes.columns),
        "columns_renamed": {**table.attrs.get("renamed_columns", {}), **renamed},
        "decimal_commas": _decimal_qa(table),
        "encoding": {"name": table.attrs.get("encoding"), "reason": table.attrs.get("encoding_reason")},
    }
    return gdf, qa


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


def _join_distinct(values):
    seen = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return "; ".join(seen)


# ---------------------------------------------------------------- console summaries

#: a stage that drops more than this share of its rows says so as a warning
DROPPED_ROWS_WARNING = 0.05


def samples_summary(qa, requested=False):
    """(one-line summary, [warnings]) of prepare_samples' QA for the console and the rule's log.

    requested: the config named the elements (then dropping any of them is a warning).
    """
    read, rejected = qa["rows_read"], qa["rows_rejected"]["count"]
    merged = qa["locations_merged"]
    kept, dropped = list(qa["elements_kept"]), qa["elements_dropped"]
    missing = sum(qa["values_missing"][name]["total"] for name in kept)
    decimal = qa.get("decimal_commas", {}).get("cells_read_with_decimal_comma", 0)
    line = (f"samples: {read} rows read, {rejected} rejected, {merged['rows_merged_away']} merged into repeated "
            f"locations, {merged['locations_written']} locations written; {len(kept)} elements kept"
            f"{' (' + ', '.join(kept) + ')' if kept else ''}, {len(dropped)} dropped"
            f"{' (' + ', '.join(dropped) + ')' if dropped else ''}; {missing} cells set missing"
            f"{f'; {decimal} cells read with a decimal comma' if decimal else ''}")
    warnings = []
    if read and rejected > DROPPED_ROWS_WARNING * read:
        warnings.append(f"samples: {rejected} of {read} rows ({rejected / read:.1%}) rejected "
                        f"({_reasons(qa['rows_rejected'])}){_first_rejected(qa['rows_rejected'])}; "
                        "every row is listed in qa.json (rows_rejected)")
    for name, entry in dropped.items():
        if requested:
            warnings.append(f"samples: element {name!r}, named in the config, was dropped: {entry['reason']}")
    warnings += _screen_warnings(qa)
    return line, warnings


def _screen_warnings(qa):
    """Console lines for what the value screens found (each also in qa.json)."""
    out = [f"samples: {qa['layer_note']}"] if qa.get("layer_note") else []
    for name, items in qa.get("missing_codes_guessed", {}).get("elements", {}).items():
        shown = ", ".join(f"{i['value']:g} at {i['rows']} rows (column {i['column']}, first row {i['first_rows'][0]})"
                          for i in items[:3])
        out.append(f"samples: {name}: treated as missing-value codes: {shown}; list real codes under "
                   "prepare.missing_codes, or set prepare.guess_missing_codes: false")
    outliers = qa.get("gross_outliers", {})
    for name, items in outliers.get("elements", {}).items():
        shown = ", ".join(f"{i['value']:g} at row {i['row']} ({i['times_largest_kept']:.0f} x the largest other)"
                          for i in items[:3])
        action = {"cap": f"capped to {items[0].get('capped_to', float('nan')):g}", "exclude": "set missing",
                  "keep": "kept"}[outliers["action"]]
        out.append(f"samples: {name}: gross outlier {shown}, {action} (prepare.outliers: cap, exclude or keep)")
    same_id = qa.get("locations_merged", {}).get("same_id_other_location") or []
    if same_id:
        shown = ", ".join(f"{c['id']!r} (rows {', '.join(map(str, c['rows'][:3]))})" for c in same_id[:3])
        out.append(f"samples: {len(same_id)} sample IDs written at more than one location: {shown}; kept as "
                   "separate samples, listed in duplicates.csv (prepare.duplicate_rule: error stops)")
    conflicts = qa.get("locations_merged", {}).get("conflicting_locations", {})
    if conflicts:
        tol = qa["locations_merged"]["tolerance"]
        listed = ", ".join(f"{k} {v}" for k, v in conflicts.items())
        out.append(f"samples: repeated locations whose values differ by more than {tol:.0%}: {listed}; merged by "
                   f"{qa['locations_merged']['rule']}, listed in duplicates.csv (prepare.duplicate_rule: error stops)")
    zeros = qa.get("zeros", {})
    if zeros.get("beside_explicit_limits") and zeros.get("means") == "below":
        listed = ", ".join(f"{k} {sum(v.values())}" for k, v in zeros["beside_explicit_limits"].items())
        out.append(f"samples: zeros read as below an unstated limit in columns that also write limits ({listed}); "
                   "if this lab writes 0 for 'not analysed', set prepare.zero_means: missing")
    for name, text in qa.get("values_text_to_missing", {}).items():
        values = text.get("values", {})
        shown = ", ".join(f"{v!r} x{n}" for v, n in list(values.items())[:4])
        out.append(f"samples: {name}: {text['count']} cells of unknown text set missing ({shown}); map lab "
                   "flags to below, above or missing under prepare.text_flags")
    return out


def sites_summary(qa, outside_samples=None, names=""):
    """(one-line summary, [warnings]) of prepare_sites' QA; outside_samples: count of sites outside the
    samples' extent, ``names`` the first of them."""
    read, rejected = qa["rows_read"], qa["rows_rejected"]["count"]
    locations = qa["locations_merged"]["locations"]
    line = f"sites: {read} rows read, {rejected} rejected, {locations} locations written"
    warnings = []
    if read and rejected > DROPPED_ROWS_WARNING * read:
        warnings.append(f"sites: {rejected} of {read} rows ({rejected / read:.1%}) rejected "
                        f"({_reasons(qa['rows_rejected'])}){_first_rejected(qa['rows_rejected'])}")
    if outside_samples is not None:
        line += f"; {locations - outside_samples} inside the samples' extent"
        if outside_samples:
            advice = qa.get("offset_hint") or "check sites_crs and the sites file"
            warnings.append(f"sites: {outside_samples} of {locations} sites lie outside the samples' extent "
                            f"(no sample near them to label or map): {names}; {advice}")
    return line, warnings


def _reasons(rejected):
    return "; ".join(f"{count} {reason}" for reason, count in rejected["by_reason"].items())


def _first_rejected(rejected):
    rows = rejected["rows"]
    if not rows:
        return ""
    first = rows[0]
    shown = f"; first: row {first['row']}"
    if first.get("value"):
        shown += f" {first['value']!r}"
        cells = [c.strip() for c in first["value"].split(", ")]
        hints = {_number_hint(c) for c in cells if c and not _is_number(c)}
        if hints:
            shown += sorted(hints)[0]
    return shown


def sites_outside_samples(sites, samples):
    """True for each site outside the bounding box of the samples."""
    from .survey_io import outside_bounds

    xy = samples.get_coordinates().to_numpy()
    bounds = (*xy.min(axis=0), *xy.max(axis=0))
    return outside_bounds(sites.get_coordinates().to_numpy(), bounds)
