"""A survey config written from the files themselves (``skt init``).

Reads the samples and sites the way ``prepare`` will (same reader, same
coordinate, CRS and element rules), decides what the defaults cannot know
(coordinate columns, CRS, the commodity, distances scaled to the sample
spacing) and writes a commented YAML file holding only those keys. Keys it
leaves out take the schema's defaults (workflow/schemas/config.schema.yaml),
exactly as for any ``--configfile``.
"""

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .cv.commodity import COMMODITY_COLUMNS, commodity_column
from .errors import InputError
from .prepare import SITE_KEYS, _coordinate_values, locate_points
from .survey_io import read_table
from .units import detect_elements, parse_column_name
from .window_plan import median_spacing

#: coordinate column pairs tried in order, compared case-insensitively
COORDINATE_PAIRS = (("x", "y"), ("easting", "northing"), ("east", "north"), ("e", "n"),
                    ("longitude", "latitude"), ("long", "lat"), ("lon", "lat"), ("lng", "lat"),
                    ("utm_e", "utm_n"), ("utm_x", "utm_y"), ("mga_e", "mga_n"), ("x_coord", "y_coord"))
_LONLAT_NAMES = {"longitude", "long", "lon", "lng"}
#: the settings of a real survey that follow from its sample spacing (median nearest-neighbour distance)
LABEL_RADIUS_SPACINGS = 2.0   # area 6's 100 m at 50 m spacing; a halo reaches the next samples
MAX_DISTANCE_SPACINGS = 3.0   # Kolari's 5 km at 1.6 km, area 6's 150 m at 50 m
RESERVED = ("regions", "pooled")
#: what the cross-validation refits per fold for a new survey: SKT (its fold spread is the SKT map's uncertainty),
#: the field's classic weights of evidence, and the two trained learners closest to the fair reference over the
#: pooled surveys (docs/results/pooled_recommended.md; neither beats it by an interval that excludes zero)
CV_METHODS = ("context_forest", "anchored_logistic", "wofe", "skt")


@dataclass
class PointsFile:
    """What init found in one file of points."""

    path: str
    layer: str | None
    x_column: str | None
    y_column: str | None
    crs: str
    crs_source: str
    working_crs: str
    n_rows: int
    n_located: int
    xy: np.ndarray = field(repr=False)
    columns: list = field(repr=False)
    table: object = field(repr=False, default=None)


def coordinate_columns(table):
    """(x, y) column names of a table, or (None, None) where the file has point geometry."""
    if table.attrs.get("geometry_x") is not None:
        return None, None
    by_lower = {str(c).strip().lower(): str(c) for c in table.columns}
    for x_name, y_name in COORDINATE_PAIRS:
        if x_name in by_lower and y_name in by_lower:
            return by_lower[x_name], by_lower[y_name]
    layers = table.attrs.get("layers") or []
    other = (f"; this is layer (sheet) {table.attrs.get('layer')!r} of {', '.join(map(str, layers))}: "
             "choose another with --layer" if len(layers) > 1 else "")
    raise InputError("no coordinate columns found (tried X/Y, Easting/Northing, Longitude/Latitude and the like): "
                     "give them with --x-column and --y-column; columns in the file: "
                     + ", ".join(map(str, table.columns)) + other, path=table.attrs.get("path"))


def lonlat_like(table, x_column, y_column):
    """True when both columns hold numbers inside longitude -180..180 and latitude -90..90
    and at least one has a fractional part (metre coordinates are rarely all below 180)."""
    # read as prepare reads coordinates (decimal commas were resolved by read_table already)
    x = _coordinate_values(table[x_column], x_column, {})
    y = _coordinate_values(table[y_column], y_column, {})
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return False
    x, y = x[ok], y[ok]
    in_range = (np.abs(x) <= 180).all() and (np.abs(y) <= 90).all()
    fractional = (np.abs(x - np.round(x)) > 0).any() or (np.abs(y - np.round(y)) > 0).any()
    return bool(in_range and fractional)


def choose_crs(table, x_column, y_column, given=None, *, flag="--crs"):
    """(crs, how it was found): the one given, the file's, or WGS 84 for longitude/latitude numbers."""
    if given:
        return str(given), f"given ({flag})"
    if table.attrs.get("crs"):
        return str(table.attrs["crs"]), "declared by the file"
    if x_column is not None and lonlat_like(table, x_column, y_column):
        found = ("longitude/latitude columns" if x_column.strip().lower() in _LONLAT_NAMES
                 else "the coordinates are longitudes and latitudes")
        return "EPSG:4326", f"{found} (WGS 84 assumed; GDA94 or NAD83 differ by about a metre)"
    raise InputError(f"the coordinates carry no CRS and are not longitude/latitude: give it with {flag}, e.g. "
                     f"{flag} EPSG:32650 for UTM zone 50N (x {x_column!r}, y {y_column!r})",
                     path=table.attrs.get("path"), column=x_column)


def read_points_file(path, *, layer=None, x_column=None, y_column=None, crs=None, fallback_crs=None, working_crs=None,
                     sites=False):
    """Read ``path`` with the workflow's reader and locate its points as ``prepare`` will.
    ``fallback_crs``: the CRS of coordinates that declare none and are not longitude/latitude
    (the sites of a survey are usually in the samples' CRS)."""
    path = str(Path(path).expanduser().resolve())
    if not Path(path).exists():
        raise InputError(f"{'sites' if sites else 'survey'} file does not exist", path=path)
    table = read_table(path, layer=layer)
    if x_column is None and y_column is None:
        x_column, y_column = coordinate_columns(table)
    flag = "--sites-crs" if sites else "--crs"
    try:
        crs, crs_source = choose_crs(table, x_column, y_column, crs, flag=flag)
    except InputError:
        if fallback_crs is None:
            raise
        crs, crs_source = fallback_crs, "none declared: the samples' CRS"
    points = locate_points(table, x_column=x_column, y_column=y_column, crs=crs, working_crs=working_crs,
                           keys=SITE_KEYS if sites else None)
    xy = np.column_stack([points.x[points.ok], points.y[points.ok]])
    columns = [str(c) for c in table.columns if c not in (table.attrs.get("geometry_x"), table.attrs.get("geometry_y"))]
    return PointsFile(path, table.attrs.get("layer") if table.attrs.get("kind") == "vector" else layer,
                      x_column, y_column, crs, crs_source, points.qa["crs_out"], len(table), int(points.ok.sum()),
                      xy, columns, table)


def survey_elements(samples, requested=None):
    """Element columns found by name (or the ``requested`` ones), coordinates excluded."""
    exclude = {c for c in (samples.x_column, samples.y_column) if c}
    found = detect_elements(samples.columns, mapping=list(requested) if requested else None, exclude=exclude)
    if not found:
        raise InputError("no element columns recognised (names like Au, Au_ppb, Cu_ppm, 'Cu ppm'): name them "
                         "with --elements", path=samples.path)
    return found


def site_commodity(sites, given=None):
    """(commodity list or None, how): the elements given, else what the sites' commodity column names
    (left to the workflow, which reads the same column the same way); a clear stop when neither exists."""
    if given:
        return [str(e).strip() for e in given if str(e).strip()], "given (--commodity)"
    chosen, name, _ = commodity_column(sites.table)
    if chosen:
        return None, f"read by the workflow from the sites' {name} column (now: {', '.join(chosen)})"
    raise InputError("the sites carry no commodity column (" + ", ".join(COMMODITY_COLUMNS) + "): give the "
                     "survey's commodity element(s) with --commodity, e.g. --commodity Au", path=sites.path)


def nice_distance(metres):
    """The smallest distance of 1, 2 or 5 times a power of ten not below ``metres`` (a distance a
    person would write, never shorter than the rule asks)."""
    if not metres > 0 or not math.isfinite(metres):
        raise InputError(f"cannot scale distances to a sample spacing of {metres} m")
    power = 10 ** math.floor(math.log10(metres))
    return float(next(k for k in (1, 2, 5, 10) if k * power >= metres * (1 - 1e-12)) * power)


#: file names that say nothing of the survey: its folder names it instead
GENERIC_STEMS = {"samples", "sample", "data", "survey", "geochemistry", "geochem", "points", "export", "assays"}


def dataset_name(path, given=None):
    """The dataset's name: ``given``, else the file's stem (its folder's name where the stem is generic)."""
    path = Path(path)
    stem = path.parent.name if path.stem.lower() in GENERIC_STEMS and path.parent.name else path.stem
    name = given or re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_") or "survey"
    if name in RESERVED:
        name = f"{name}_survey"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise InputError(f"dataset name {name!r} may hold only letters, digits, '_', '.' and '-'")
    return name


def survey_config(samples, sites, *, name, commodity=None, elements=None):
    """(config, notes): the config of one survey and what init decided and why, in order."""
    found = survey_elements(samples, elements)
    chosen, how = site_commodity(sites, commodity)
    if chosen:
        missing = [e for e in chosen if e not in {f.species for f in found}]
        if missing:
            raise InputError(f"commodity {', '.join(missing)} is not among the survey's elements "
                             f"({', '.join(sorted({f.species for f in found}))})", path=samples.path)
    spacing = median_spacing(samples.xy)
    label_radius = nice_distance(LABEL_RADIUS_SPACINGS * spacing)
    max_distance = nice_distance(MAX_DISTANCE_SPACINGS * spacing)
    entry = {"samples": samples.path}
    if samples.layer:
        entry["samples_layer"] = samples.layer
    entry["sites"] = sites.path
    if sites.layer:
        entry["sites_layer"] = sites.layer
    entry.update(x_column=samples.x_column, y_column=samples.y_column, crs=samples.crs,
                 sites_x_column=sites.x_column, sites_y_column=sites.y_column)
    if sites.crs != samples.crs:
        entry["sites_crs"] = sites.crs
    if elements:
        entry["elements"] = [f.column for f in found]
    config = {
        "datasets": {name: entry},
        "screen": {"label_radius": label_radius},
        "interpolate": {"max_distance": max_distance},
        # label-free rules of pipeline.window_plan, as the real surveys use
        "tiles": {"window": "auto", "stride": "auto", "split_row": "auto"},
        "skt": {"dilations": "auto"},
        "train": {"crop": "auto"},
        "evaluate": {"commodity": chosen, "cv": {"methods": list(CV_METHODS)}},
    }
    units = {}
    for f in found:
        units.setdefault(f.unit, []).append(f.name)
    unnamed = [f.name for f in found if (parse_column_name(f.column) or (None, None))[1] is None]
    notes = [
        f"samples: {samples.path}" + (f" (layer {samples.layer})" if samples.layer else ""),
        f"  {samples.n_located} of {samples.n_rows} rows located; coordinates: "
        + (f"columns {samples.x_column}/{samples.y_column}" if samples.x_column else "point geometry"),
        f"  CRS {samples.crs}: {samples.crs_source}; working CRS {samples.working_crs}",
        f"  {len(found)} element columns: " + "; ".join(f"{u}: {', '.join(n)}" for u, n in units.items()),
        ("  units come from the column names" if not unnamed else
         f"  no unit in the name of {', '.join(unnamed)}: read as ppm; where that is wrong set "
         f"datasets.{name}.units, e.g. {{{unnamed[0]}: ppb}}"),
        f"sites: {sites.path}: {sites.n_located} of {sites.n_rows} located; CRS {sites.crs}: {sites.crs_source}",
        f"commodity: {how}",
        f"median sample spacing {spacing:.0f} m: label_radius {label_radius:g} m "
        f"({LABEL_RADIUS_SPACINGS:g} spacings), max_distance {max_distance:g} m ({MAX_DISTANCE_SPACINGS:g} spacings)",
        "window, stride, crop and dilations: 'auto' (pipeline.window_plan's rule from the spacing, no labels)",
        "split_row: auto (the paper's train/test cut placed so that a quarter of the sites are tested)",
        f"cross-validation refits {', '.join(CV_METHODS)} per fold (evaluate.cv.methods)",
    ]
    return config, notes


def config_text(config, notes):
    """The YAML of ``config`` under a comment block of ``notes``."""
    head = ["# Survey configuration written by `skt init`; edit it and rerun `skt run`.",
            "# Keys not listed take the defaults of workflow/schemas/config.schema.yaml.", "#"]
    head += [f"# {line}" for line in notes]
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return "\n".join(head) + "\n\n" + body


def init_survey(samples_path, sites_path, *, name=None, crs=None, sites_crs=None, commodity=None, elements=None,
                x_column=None, y_column=None, samples_layer=None, sites_layer=None):
    """(config, notes) for a survey: read both files, decide, explain."""
    samples = read_points_file(samples_path, layer=samples_layer, x_column=x_column, y_column=y_column, crs=crs)
    sites = read_points_file(sites_path, layer=sites_layer, crs=sites_crs, fallback_crs=samples.crs,
                             working_crs=samples.working_crs, sites=True)
    return survey_config(samples, sites, name=dataset_name(samples_path, name), commodity=commodity,
                         elements=elements)
