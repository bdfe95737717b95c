"""Reading survey tables (CSV or any vector file GDAL reads) and writing point layers.

CSV cells stay raw strings so that ``<0.5``, ``n.d.`` and ``-9999`` reach the
cleaning step as the user typed them. Vector files keep the field types GDAL
reports and gain ``geometry_x`` / ``geometry_y`` columns from point geometry.

Row numbers: a CSV row is numbered as a spreadsheet shows it (the header is
row 1, the first data row is row 2); a vector feature as the QGIS attribute
table shows it (the first feature is row 1). ``table.attrs["row_offset"]`` is
what to add to a 0-based position to get that number.
"""

import csv
import re
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio

from .atomic import atomic_path
from .errors import InputError
from .vectors import write_gpkg

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
GEOMETRY_X = "geometry_x"
GEOMETRY_Y = "geometry_y"
CSV_ROW_NUMBERING = "spreadsheet row: the header is row 1, the first data row is row 2"
VECTOR_ROW_NUMBERING = "feature number: the first feature is row 1 (as in the QGIS attribute table)"
DECIMAL_MARKS = (None, ".", ",")
# numbers as cells hold them: optional '<' / '>' (censoring), sign, digits
_COMMA_NUMBER = r"^\s*(?:[<>]=?\s*)?[+-]?\d*,\d+\s*$"
_DOT_NUMBER = r"^\s*(?:[<>]=?\s*)?[+-]?\d*\.\d+(?:[eE][+-]?\d+)?\s*$"
_COMMA_THOUSANDS = r"^\s*[+-]?\d{1,3}(?:,\d{3})+\s*$"
_DOT_THOUSANDS_COMMA_DECIMAL = r"^\s*(?:[<>]=?\s*)?[+-]?\d{1,3}(?:\.\d{3})+,\d+\s*$"


def read_table(path, layer=None, decimal=None, encoding=None):
    """All columns of a survey table as read; ``attrs`` carry crs, row numbering and layer.

    decimal: the decimal mark of a delimited text file: "." , "," or None (decide per column: a
    ``;``-delimited file, or a column whose numbers are written ``0,54`` and never ``0.54``, has decimal
    commas; a column with both stops with an InputError naming the setting). Cells read with a decimal
    comma are rewritten with a point; ``attrs["decimal_commas"]`` counts them per column.

    encoding: of a delimited text file; None = detect from the whole file (``text_encoding``).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes): expected a header row and data rows", path=path)
    if decimal not in DECIMAL_MARKS:
        raise InputError(f"decimal must be \".\", \",\" or null, not {decimal!r}", path=path, column="decimal")
    if path.suffix.lower() in TEXT_SUFFIXES:
        return _read_delimited(path, decimal, encoding)
    table = _read_vector(path, layer)
    table.attrs.update(decimal=decimal, decimal_commas={})
    return table


def _read_delimited(path, decimal=None, encoding=None):
    encoding, encoding_reason = text_encoding(path, encoding)
    with open(path, newline="", encoding=encoding) as fh:
        header_line = fh.readline()
    if not header_line.strip():
        raise InputError("the first line is blank: expected a header row", path=path)
    sep = max([",", ";", "\t", "|"], key=header_line.count)
    header = next(csv.reader([header_line], delimiter=sep))
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, encoding=encoding)
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse as delimited text ({exc})", path=path) from None
    # pandas renames repeated headers "Au_ppm" -> "Au_ppm.1"; say so instead of hiding it
    renamed = {}
    seen = {}
    for position, name in enumerate(header):
        name = name.strip()
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1 and position < len(table.columns):
            renamed[str(table.columns[position])] = name
    table.columns = [str(c).strip() for c in table.columns]
    table.attrs.update(
        path=str(path), kind="delimited text", separator=sep, encoding=encoding, encoding_reason=encoding_reason,
        crs=None, layer=None,
        row_offset=2, row_numbering=CSV_ROW_NUMBERING, renamed_columns=renamed, geometry_type=None,
    )
    table.attrs.update(decimal=decimal, decimal_commas=_read_decimal_commas(table, sep, decimal, path))
    return table


def _read_decimal_commas(table, sep, decimal, path):
    """Rewrite numbers written with a decimal comma (``0,54``) with a point, in place; counts per column."""
    converted = {}
    if decimal == ".":
        return converted
    for column in table.columns:
        cells = table[column]
        has_comma = cells.str.contains(",", regex=False).to_numpy()
        if not has_comma.any():
            continue
        comma = cells.str.match(_COMMA_NUMBER).to_numpy() & has_comma
        grouped = cells.str.match(_DOT_THOUSANDS_COMMA_DECIMAL).to_numpy() & has_comma
        if not (comma | grouped).any():
            continue
        if decimal is None:
            dot = cells.str.match(_DOT_NUMBER).to_numpy()
            if dot.any():
                c, d = int(np.flatnonzero(comma | grouped)[0]), int(np.flatnonzero(dot)[0])
                raise InputError(
                    f"numbers written with a decimal comma (row {c + 2}: {cells.iloc[c]!r}) and with a decimal "
                    f"point (row {d + 2}: {cells.iloc[d]!r}) in one column: cannot tell which mark is meant; set "
                    f"decimal: \",\" for this dataset if commas are decimal marks (the file is {sep!r}-delimited), "
                    "or decimal: \".\" if they are not", path=path, column=column)
            thousands = cells.str.match(_COMMA_THOUSANDS).to_numpy()
            if sep != ";" and not grouped.any() and not (comma & ~thousands).any():
                continue  # 411,826: thousands separators in a comma-delimited file, not decimal commas
        fixed = cells.where(~grouped, cells.str.replace(".", "", regex=False))
        fixed = fixed.where(~(comma | grouped), fixed.str.replace(",", ".", regex=False))
        table[column] = fixed
        converted[str(column)] = int((comma | grouped).sum())
    return converted


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _bad_byte(data, exc, path, encoding, hint):
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    raise InputError(f"line {line}, byte {exc.start} (character {column} of the line): byte "
                     f"0x{data[exc.start]:02x} is not {encoding}; {hint}", path=path) from None


def text_encoding(path, encoding=None):
    """(encoding, reason) of a delimited text file, read whole. UTF-8 when the
    file decodes as UTF-8; Latin-1 when it holds high bytes but no UTF-8
    character at all (a file from a Windows or older export); a file that
    mixes UTF-8 characters with bytes that are not UTF-8 stops, naming the
    line and byte offset, since either reading would garble part of it.
    ``encoding``: the dataset's ``encoding`` key; the file must then decode with it."""
    data = Path(path).read_bytes()
    if encoding is not None:
        try:
            data.decode(encoding)
        except LookupError:
            raise InputError(f"encoding {encoding!r} is not a text encoding Python knows (try utf-8, latin-1, "
                             "cp1252)", path=path, column="encoding") from None
        except UnicodeDecodeError as exc:
            _bad_byte(data, exc, path, encoding, f"the dataset's encoding key says {encoding!r}: set the one the "
                      "file was written in (latin-1 reads every byte)")
        return encoding, "set by the dataset's encoding key"
    try:
        data.decode("utf-8")
        return "utf-8-sig", "the whole file is valid UTF-8"
    except UnicodeDecodeError as exc:
        if _UTF8_MULTIBYTE.search(data):
            _bad_byte(data, exc, path, "UTF-8", "the rest of the file holds UTF-8 characters, so it is neither "
                      "UTF-8 nor a one-byte encoding throughout; fix the byte, or set the dataset's encoding key "
                      "(e.g. encoding: latin-1) to read every byte in that encoding")
        return "latin-1", "high bytes that are not UTF-8 and no UTF-8 character: read as Latin-1"


def _read_vector(path, layer):
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # GDAL reports unreadable files with many exception types
        raise InputError(f"GDAL cannot read this file ({exc})", path=path) from None
    if not layers:
        raise InputError("the file holds no layers", path=path)
    note = None
    if layer is None:
        layer = layers[0]
        if len(layers) > 1:
            note = (f"read layer {layer!r}, the first of {len(layers)} ({', '.join(layers[:8])}); a workbook's "
                    "sheets are its layers: set samples_layer or sites_layer to read another")
    elif str(layer) not in layers:
        raise InputError(f"no layer {layer!r}; layers in the file: {', '.join(layers)}", path=path)
    try:
        info = pyogrio.read_info(path, layer=layer)
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:
        raise InputError(f"GDAL cannot read layer {layer!r} ({exc})", path=path) from None
    geometry_type = info.get("geometry_type")
    crs = None
    if "geometry" in getattr(frame, "columns", []) and hasattr(frame, "geometry"):
        geometry = frame.geometry
        crs = geometry.crs.to_string() if geometry.crs is not None else None
        xs, ys = _point_xy(geometry)
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        x_name, y_name = _free_name(GEOMETRY_X, table.columns), _free_name(GEOMETRY_Y, table.columns)
        table[x_name] = xs
        table[y_name] = ys
    else:
        table = pd.DataFrame(frame)
        x_name = y_name = None
    table.columns = [str(c) for c in table.columns]
    table.attrs.update(
        path=str(path), kind="vector", driver=info.get("driver"), crs=crs, layer=layer, layers=layers,
        row_offset=1, row_numbering=VECTOR_ROW_NUMBERING, renamed_columns={}, geometry_type=geometry_type,
        layer_note=note,
        geometry_x=x_name, geometry_y=y_name,
    )
    return table


def _point_xy(geometry):
    xs = np.full(len(geometry), np.nan)
    ys = np.full(len(geometry), np.nan)
    is_point = (geometry.geom_type == "Point").to_numpy() & ~geometry.is_empty.to_numpy()
    if is_point.any():
        points = geometry[is_point]
        xs[is_point] = points.x.to_numpy()
        ys[is_point] = points.y.to_numpy()
    return xs, ys


def _free_name(name, taken):
    while name in taken:
        name = f"_{name}"
    return name


def write_points(gdf, path, layer=None):
    """Write a point GeoDataFrame to a GeoPackage atomically; ``attrs['units']`` go in the layer metadata.

    The ``x`` and ``y`` columns are not written as fields: the geometry holds them, and GeoPackage field
    names are case-insensitive, so ``y`` would clash with yttrium ``Y``. read_points puts them back.
    """
    path = Path(path)
    layer = layer or path.stem
    metadata = {}
    units = gdf.attrs.get("units")
    if units:
        metadata["units"] = json.dumps(units)
    fields = gdf.drop(columns=[c for c in ("x", "y") if c in gdf.columns])
    taken = {}
    for name in fields.columns:
        if name.lower() in taken:
            raise InputError(f"columns {taken[name.lower()]!r} and {name!r} differ only in case; a GeoPackage "
                             "cannot hold both", path=path, column=name)
        taken[name.lower()] = name
    with atomic_path(path) as tmp:
        write_gpkg(fields, tmp, layer=layer, layer_metadata=metadata or None)
    return path


def read_points(path, layer=None):
    """Read a layer written by write_points: x and y from the geometry, ``attrs['units']`` from its metadata."""
    path = Path(path)
    gdf = pyogrio.read_dataframe(path, layer=layer)
    xs, ys = _point_xy(gdf.geometry)
    gdf.insert(0, "x", xs)
    gdf.insert(1, "y", ys)
    metadata = pyogrio.read_info(path, layer=layer).get("layer_metadata") or {}
    if "units" in metadata:
        gdf.attrs["units"] = json.loads(metadata["units"])
    return gdf


#: columns of a prepared samples layer that are not element concentrations
NON_ELEMENT_COLUMNS = ("x", "y", "n_merged", "geometry", "campaign")


def element_columns(samples):
    """Element columns of a prepared samples layer (see ``write_points``), in order."""
    return [c for c in samples.columns if c not in NON_ELEMENT_COLUMNS]


#: attribute columns that name a site, in order of preference (case-insensitive)
SITE_NAME_COLUMNS = ("name", "site_name", "sitename", "site", "deposit", "occurrence", "prospect", "mine")


def site_names(sites, mask=None, n=5):
    """'Baidong, Dachong, ... (and 3 more)': the first ``n`` names of the sites in ``mask``.

    The name comes from a column such as ``name`` (SITE_NAME_COLUMNS), else the first text
    attribute, else the coordinates.
    """
    mask = np.ones(len(sites), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    by_lower = {str(c).lower(): c for c in sites.columns}
    column = next((by_lower[k] for k in SITE_NAME_COLUMNS if k in by_lower), None)
    if column is None:
        column = next((c for c in sites.columns if c not in ("x", "y", "n_merged", "geometry")
                       and sites[c].dtype == object), None)
    positions = np.flatnonzero(mask)
    if column is not None:
        shown = [str(sites[column].iloc[i]) or f"row {i + 1}" for i in positions[:n]]
    else:
        xy = sites.get_coordinates().to_numpy() if hasattr(sites, "get_coordinates") else sites[["x", "y"]].to_numpy()
        shown = [f"({xy[i, 0]:.0f}, {xy[i, 1]:.0f})" for i in positions[:n]]
    more = f" (and {len(positions) - n} more)" if len(positions) > n else ""
    return ", ".join(shown) + more


def outside_bounds(xy, bounds):
    """True for points outside (xmin, ymin, xmax, ymax)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    xmin, ymin, xmax, ymax = bounds
    return ~((xy[:, 0] >= xmin) & (xy[:, 0] <= xmax) & (xy[:, 1] >= ymin) & (xy[:, 1] <= ymax))
