"""Coordinates: finding the columns and the CRS, checking, projecting and rejecting rows (locate_points)."""

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyproj

from ..errors import InputError
from .values import _NA_TOKENS, _to_float

_COORD_HINTS = ("x", "y", "lon", "lat", "long", "longitude", "latitude", "east", "north", "easting", "northing")
#: the config keys a user changes, named in error messages (the sites file has its own)
SAMPLE_KEYS = {"crs": "crs", "x_column": "x_column", "y_column": "y_column", "working_crs": "working_crs"}
SITE_KEYS = {"crs": "sites_crs", "x_column": "sites_x_column", "y_column": "sites_y_column",
             "working_crs": "working_crs"}


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
    crs_in, crs_note = _input_crs(table, crs, source, keys)
    rejected = {}
    x_in, y_in, finite = _read_coordinates(table, x_col, y_col, source, crs_in, keys, rejected)
    where = "geometry" if source == "geometry" else f"{x_col}, {y_col}"
    lon, lat, inside = _inside_area_of_use(x_in, y_in, finite, crs_in, area_margin, where, rejected)
    if not inside.any():
        raise _nothing_inside(x_in[finite], y_in[finite], crs_in, area_margin, keys, path, x_col,
                              rows=[int(r) for r in np.flatnonzero(finite)[:10] + offset])

    crs_out, out_source = _working_crs(working_crs, lon[inside], lat[inside], path, crs_in)
    x, y, ok = _project(x_in, y_in, inside, crs_in, crs_out, f"{x_col}, {y_col}", rejected, path, x_col)
    outside_out = _outside_working_area(lon, lat, ok, crs_out, area_margin, path)
    outliers = _spatial_outliers(x, y, ok, outlier_factor)
    _reject(rejected, outliers, f"more than {outlier_factor} times the median distance from the median location "
            "of the points (a spatial outlier: check for a dropped digit or swapped coordinates)", f"{x_col}, {y_col}")
    ok &= ~outliers
    x[~ok] = np.nan
    y[~ok] = np.nan

    coordinates = {"x_column": x_col, "y_column": y_col, "source": source}
    if source == "geometry" and x_column is not None:
        coordinates["note"] = f"no columns {x_column!r}/{y_column!r} in the file: the point geometry is used"
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
    rows = _rejection_list(rejected, table, x_col, y_col, offset)
    return Points(x_in, y_in, x, y, ok, rows, crs_in, crs_out, qa)


def _read_coordinates(table, x_col, y_col, source, crs_in, keys, rejected):
    """x and y of every row as numbers (NaN where unusable, those rows rejected) and where both are finite;
    an InputError when no row has numbers, or when they cannot be in crs_in."""
    path = table.attrs.get("path")
    x_in = _coordinate_values(table[x_col], x_col if source == "columns" else "geometry", rejected)
    y_in = _coordinate_values(table[y_col], y_col if source == "columns" else "geometry", rejected)
    finite = np.isfinite(x_in) & np.isfinite(y_in)
    if not finite.any():
        offset = table.attrs.get("row_offset", 2)
        raise InputError(f"no row has numeric coordinates in {x_col!r} and {y_col!r}"
                         f"{_unreadable_example(table, x_col, y_col, offset, keys)}", path=path, column=x_col)
    _check_plausible(x_in[finite], y_in[finite], crs_in, path, x_col, y_col, keys)
    return x_in, y_in, finite


def _inside_area_of_use(x_in, y_in, finite, crs_in, area_margin, where, rejected):
    """Lon/lat of every row and whether it lies inside the area of use of crs_in (the rest rejected)."""
    lon, lat = _lonlat(x_in, y_in, crs_in, finite)
    area = _area_of_use(crs_in)
    inside = finite.copy()
    if crs_in.is_geographic:
        out_of_range = finite & ((np.abs(x_in) > 180) | (np.abs(y_in) > 90))
        _reject(rejected, out_of_range, "outside longitude -180..180 / latitude -90..90", where)
        inside &= ~out_of_range
    if area is not None:
        outside = inside & ~_in_area(lon, lat, area.bounds, area_margin)
        w, s, e, n = area.bounds
        _reject(rejected, outside, f"outside the area of use of {_crs_name(crs_in)} "
                f"(lon {w}..{e}, lat {s}..{n}) by more than {area_margin} degrees", where)
        inside &= ~outside
    return lon, lat, inside


def _area_of_use(crs):
    # a local engineering CRS has no lon/lat: nothing to check against
    return crs.area_of_use if (crs.is_geographic or crs.geodetic_crs is not None) else None


def _nothing_inside(x, y, crs_in, area_margin, keys, path, x_col, rows):
    """The InputError for data (x, y: the finite coordinates) of which no row lies inside crs_in's area of use."""
    area = _area_of_use(crs_in)
    bounds = f" (lon {area.bounds[0]}..{area.bounds[2]}, lat {area.bounds[1]}..{area.bounds[3]})" if area else ""
    return InputError(f"no row has coordinates inside the area of use of {_crs_name(crs_in)}{bounds}; the data "
                      f"span x {x.min():g}..{x.max():g}, y {y.min():g}..{y.max():g}: "
                      f"{_crs_advice(x, y, crs_in, area_margin, keys)}", path=path, column=x_col, rows=rows)


def _project(x_in, y_in, inside, crs_in, crs_out, where, rejected, path, x_col):
    """x, y in crs_out (NaN outside ``inside``) and which rows were projected (the failures rejected)."""
    transformer = pyproj.Transformer.from_crs(crs_in, crs_out, always_xy=True)
    x = np.full(len(x_in), np.nan)
    y = np.full(len(x_in), np.nan)
    x[inside], y[inside] = transformer.transform(x_in[inside], y_in[inside])
    failed = inside & ~(np.isfinite(x) & np.isfinite(y))
    _reject(rejected, failed, f"cannot be projected to {_crs_name(crs_out)}", where)
    ok = inside & ~failed
    if not ok.any():
        raise InputError(f"no row can be projected to {_crs_name(crs_out)}", path=path, column=x_col)
    return x, y, ok


def _outside_working_area(lon, lat, ok, crs_out, area_margin, path):
    """How many usable points lie outside the working CRS's area of use; an InputError when all of them do."""
    if crs_out.area_of_use is None or not np.isfinite(lon[ok]).all():
        return 0
    outside_out = int((ok & ~_in_area(lon, lat, crs_out.area_of_use.bounds, area_margin)).sum())
    if outside_out == int(ok.sum()):
        suggestion = utm_crs_for(_mean_lon(lon[ok]), float(np.mean(lat[ok])))
        raise InputError(f"every point lies outside the area of use of the working CRS {_crs_name(crs_out)}; "
                         f"use a projected CRS for the data's region, e.g. {suggestion}",
                         path=path, column="working_crs")
    return outside_out


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
    from ..site_offsets import _utm_neighbours

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
