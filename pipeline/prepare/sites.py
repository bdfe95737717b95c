"""prepare_sites: known mineral sites -> one point per location in the working CRS, and its QA."""

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError
from ..survey_io import read_table
from .combine import _location_ids
from .locate import SITE_KEYS, locate_points
from .qa import _decimal_qa, _encoding_qa, _rows_qa
from .values import _as_text


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
    kept_rows = np.flatnonzero(points.ok)
    attributes, renamed = _site_attributes(table, kept_rows, points.qa["coordinates"])
    location_id = _location_ids(points.x_in[kept_rows], points.y_in[kept_rows])
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
    qa = _sites_qa(path, table, points, len(kept_rows), n_merged, list(attributes.columns), renamed)
    return gdf, qa


def _site_attributes(table, kept_rows, coordinates):
    """The attributes of the usable rows as readable strings, and {column: new name} for those renamed
    to keep clear of the output's own columns."""
    skip = {coordinates["x_column"], coordinates["y_column"], table.attrs.get("geometry_x"),
            table.attrs.get("geometry_y")}
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
    return pd.DataFrame(texts, index=rows.index), renamed


def _sites_qa(path, table, points, n_rows, n_merged, attribute_columns, renamed):
    """qa.json of the sites (n_rows: usable rows, n_merged: rows per location)."""
    return {
        **_rows_qa(path, table, int(n_rows), points.rejected, points.qa),
        "locations_merged": {
            "rows": int(n_rows),
            "locations": int(len(n_merged)),
            "locations_with_repeats": int((n_merged > 1).sum()),
            "rows_merged_away": int(n_rows - len(n_merged)),
            "rule": "sites at identical input coordinates become one point; attributes join distinct values with '; '",
        },
        "attribute_columns": attribute_columns,
        "columns_renamed": {**table.attrs.get("renamed_columns", {}), **renamed},
        "decimal_commas": _decimal_qa(table),
        "encoding": _encoding_qa(table),
    }


def _join_distinct(values):
    seen = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return "; ".join(seen)
