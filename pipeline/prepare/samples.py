"""prepare_samples: a geochemical survey -> one row per location, one column per kept element, and its QA."""

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError
from ..survey_io import read_table
from ..units import TO_PPM, canonical_unit, conversion_factor, detect_elements
from ..value_screens import DUPLICATE_TOLERANCE, OUTLIER_ACTIONS, OUTLIER_GAP, OUTLIER_Z
from .campaigns import HARMONISE_RULE, _campaign_qa, _campaign_screen, _check_campaign_column, _location_campaigns
from .combine import DUPLICATE_RULES, _combine, _merge_locations, _screen_outliers
from .locate import locate_points
from .qa import _decimal_qa, _element_summary, _encoding_qa, _rows_qa
from .values import (_HAS_VALUE, DEFAULT_MISSING_CODES, DETECTION_LIMIT_RULES, OUT_OF_RANGE, TEXT, _guess_codes,
                     _plain, _zeros, parse_values, replace_below_detection, text_flag_table)


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
    missing_codes, flags = _sample_options(detection_limit_rule, duplicate_rule, min_valid, min_valid_fraction,
                                           missing_codes, zero_means, outliers, text_flags)
    table = _read_samples(path, layer, decimal, encoding, campaign_column, id_column)
    harmonise = campaign_column is not None if harmonise_censoring is None else bool(harmonise_censoring)
    points = locate_points(table, x_column=x_column, y_column=y_column, crs=crs, working_crs=working_crs,
                           area_margin=area_margin, outlier_factor=outlier_factor)
    columns, used = _element_columns(table, points.qa["coordinates"], elements, units, campaign_column, path)

    kept_rows = np.flatnonzero(points.ok)
    rows = table.iloc[kept_rows].reset_index(drop=True)
    row_numbers = kept_rows + table.attrs["row_offset"]
    variables = _clean_elements(rows, columns, row_numbers, missing_codes, detection_limit_rule, output_units,
                                requested=bool(elements), path=path, flags=flags, guess=guess_missing_codes,
                                zero_means=zero_means)
    outlier_report = _screen_outliers(variables, row_numbers, outliers, outlier_z, outlier_gap)
    campaigns = _campaign_screen(variables, rows[campaign_column] if campaign_column else None, harmonise,
                                 detection_limit_rule, harmonise_below_limit)
    locations = _merge_locations(points.x_in[kept_rows], points.y_in[kept_rows], variables, row_numbers,
                                 rows[id_column] if id_column else None, duplicate_rule, duplicate_tolerance, path,
                                 id_column)
    kept, dropped = _select_elements(variables, locations, bool(elements), min_valid, min_valid_fraction, path)
    merged, has_value, rejections = _written_locations(locations, kept, row_numbers, points.rejected)
    gdf, campaign_qa = _samples_frame(points.x[kept_rows], points.y[kept_rows], points.crs_out, locations,
                                      merged, has_value, kept, campaigns, campaign_column)

    settings = {"missing_codes": missing_codes, "detection_limit_rule": detection_limit_rule,
                "guess_missing_codes": guess_missing_codes, "zero_means": zero_means, "text_flags": text_flags,
                "harmonise_censoring": harmonise_censoring, "harmonise": harmonise,
                "harmonise_below_limit": harmonise_below_limit, "duplicate_rule": duplicate_rule,
                "min_valid": min_valid, "min_valid_fraction": min_valid_fraction}
    qa = _samples_qa(path, table, points, variables, settings, locations=locations, kept=kept, dropped=dropped,
                     merged=merged, has_value=has_value, rejections=rejections, used=used,
                     outlier_report=outlier_report, campaigns=campaigns, campaign_qa=campaign_qa)
    return gdf, qa


# ---------------------------------------------------------------- options and the table

def _sample_options(rule, duplicate_rule, min_valid, min_valid_fraction, missing_codes, zero_means, outliers,
                    text_flags):
    """Check the options before any file is read; returns (missing codes as a tuple, the text flag table)."""
    _check_options(rule, duplicate_rule, min_valid, min_valid_fraction)
    if missing_codes is None:
        missing_codes = ()
    elif isinstance(missing_codes, (str, int, float)):
        missing_codes = (missing_codes,)
    if zero_means not in ("below", "missing"):
        raise InputError(f"prepare.zero_means must be below or missing, not {zero_means!r}", column="zero_means")
    if outliers not in OUTLIER_ACTIONS:
        raise InputError(f"prepare.outliers must be one of {', '.join(OUTLIER_ACTIONS)}, not {outliers!r}",
                         column="outliers")
    return missing_codes, text_flag_table(text_flags)


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


def _read_samples(path, layer, decimal, encoding, campaign_column, id_column):
    """The survey table, with at least one row and the campaign and ID columns the config names."""
    table = read_table(path, layer=layer, decimal=decimal, encoding=encoding)
    if len(table) == 0:
        raise InputError("no data rows (the file has a header only)", path=path)
    _check_campaign_column(table, campaign_column, path)
    if id_column is not None and id_column not in table.columns:
        raise InputError(f"id_column {id_column!r} is not a column of the samples (columns: "
                         f"{', '.join(table.columns)}): set the dataset's id_column to the sample-ID column, or null",
                         path=path, column=id_column)
    return table


def _element_columns(table, coordinates, elements, units, campaign_column, path):
    """The element columns (pipeline.units.detect_elements) and every column the stage uses."""
    geometry_columns = {table.attrs.get("geometry_x"), table.attrs.get("geometry_y")} - {None}
    coordinate_columns = {coordinates["x_column"], coordinates["y_column"]}
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
    return columns, coordinate_columns | geometry_columns | campaign_columns | {c.column for c in columns}


def _with_path(exc, path):
    prefix = str(InputError("", column=exc.column, rows=exc.rows)) if (exc.column or exc.rows) else ""
    return InputError(str(exc)[len(prefix):], path=path, column=exc.column, rows=exc.rows)


# ---------------------------------------------------------------- elements

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


def _select_elements(variables, locations, requested, min_valid, min_valid_fraction, path):
    """({element: entry} kept, {element: entry with the reason} dropped) by the valid merged locations of
    each; an InputError when none is kept, or when an element the config names has no valid value."""
    merged, n_locations = locations["merged"], len(locations["n_merged"])
    kept, dropped = {}, {}
    for name, var in variables.items():
        n_valid = int(merged[name].notna().sum())
        reason = _drop_reason(var, n_valid, n_locations, min_valid, min_valid_fraction)
        entry = {"unit": var["unit"], "source_columns": var["sources"], "valid_locations": n_valid}
        if reason is None:
            kept[name] = entry
        else:
            if requested and n_valid == 0:
                raise InputError(f"requested element {name!r} has no valid values: {reason}", path=path,
                                 column=", ".join(s["column"] for s in var["sources"]))
            dropped[name] = {"reason": reason, **entry}
    if not kept:
        reasons = "; ".join(f"{k}: {v['reason']}" for k, v in dropped.items())
        raise InputError(f"no element has enough valid values ({reasons})", path=path)
    return kept, dropped


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


# ---------------------------------------------------------------- locations written

def _written_locations(locations, kept, row_numbers, rejected):
    """The kept elements per location, which locations keep a value, and the rejected rows (the rows of
    locations left with no value at all added)."""
    merged = locations["merged"][list(kept)]
    has_value = merged.notna().any(axis=1).to_numpy()
    empty_locations = np.flatnonzero(~has_value)
    rejections = list(rejected)
    if len(empty_locations):
        empty_rows = np.flatnonzero(np.isin(locations["id"], empty_locations))
        rejections += [{"row": int(row_numbers[i]), "reason": "no valid value in any kept element", "column": None,
                        "value": ""} for i in empty_rows]
        rejections.sort(key=lambda r: r["row"])
    return merged, has_value, rejections


def _samples_frame(x_rows, y_rows, crs, locations, merged, has_value, kept, campaigns, campaign_column):
    """The output GeoDataFrame (x_rows, y_rows: working-CRS coordinates of the usable rows) and the
    campaign QA (None without a campaign column)."""
    x = x_rows[locations["first_row"]][has_value]
    y = y_rows[locations["first_row"]][has_value]
    frame = pd.DataFrame({"x": x, "y": y, "n_merged": locations["n_merged"][has_value].astype(np.int64)})
    campaign_qa = None
    if campaigns["labels"] is not None:
        location_campaign, mixed = _location_campaigns(locations["id"], campaigns["labels"])
        frame["campaign"] = location_campaign[has_value]
        campaign_qa = _campaign_qa(campaign_column, campaigns["labels"], campaigns["n_missing"], mixed[has_value])
    for name in kept:
        frame[name] = merged[name].to_numpy(dtype=float)[has_value]
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(x, y), crs=crs)
    gdf.attrs["units"] = {name: entry["unit"] for name, entry in kept.items()}
    return gdf, campaign_qa


# ---------------------------------------------------------------- the QA record

def _samples_qa(path, table, points, variables, settings, *, locations, kept, dropped, merged, has_value,
                rejections, used, outlier_report, campaigns, campaign_qa):
    """qa.json of the samples (``settings``: the options prepare_samples records)."""
    return {
        **_rows_qa(path, table, int(locations["n_merged"][has_value].sum()), rejections, points.qa),
        **_values_qa(variables, settings, outlier_report),
        **_campaigns_qa(campaigns, campaign_qa, settings),
        "locations_merged": _locations_qa(locations, has_value, settings["duplicate_rule"]),
        "elements_kept": kept,
        "elements_dropped": dropped,
        "units": {name: entry["unit"] for name, entry in kept.items()},
        "min_valid": settings["min_valid"],
        "min_valid_fraction": settings["min_valid_fraction"],
        "columns_not_used": [c for c in table.columns if c not in used],
        "columns_renamed": table.attrs.get("renamed_columns", {}),
        "decimal_commas": _decimal_qa(table),
        "encoding": _encoding_qa(table),
        "layer_note": table.attrs.get("layer_note"),
        "element_summary": _element_summary(variables, merged, kept, locations["duplicates"]),
    }


def _values_qa(variables, settings, outlier_report):
    """The QA of the cell values: missing, censored, text, guessed codes, zeros, outliers, twin columns."""
    rule = settings["detection_limit_rule"]
    return {
        "missing_codes": [_plain(c) for c in settings["missing_codes"]],
        "value_counts_cover": "rows with usable coordinates, before locations are merged",
        "values_missing": {k: v["missing"] for k, v in variables.items()},
        "values_below_detection": {
            "rule": rule,
            "replaced_by": DETECTION_LIMIT_RULES[rule][1],
            "limit_not_given": "a zero, a bare '<' or 'BDL' is below a limit the file does not give: the smallest "
                               "limit (else the smallest measured value) of that column, in the column's unit, "
                               "stands in for it (stand_in_limit)",
            "counts": {k: v["below"] for k, v in variables.items() if v["below"]["count"]},
        },
        "values_above_detection": {k: v["above"] for k, v in variables.items() if v["above"]},
        "values_text_to_missing": {k: v["text"] for k, v in variables.items() if v["text"]["count"]},
        "missing_codes_guessed": {
            "on": bool(settings["guess_missing_codes"]),
            "rule": "a positive value repeated at >= 2 rows and >= 100 x the column's 99th percentile of its "
                    "other values (10 x for 99, 999, ... 9999999), or a -99 .. -9999999 value (pipeline.value_screens.guess_codes); "
                    "prepare.missing_codes forces codes, prepare.guess_missing_codes: false turns this off",
            "elements": {k: v["codes_guessed"] for k, v in variables.items() if v["codes_guessed"]},
        },
        "zeros": {
            "means": settings["zero_means"],
            "rule": "below: a zero is below a limit the cell does not give; missing: the lab's 'not analysed' "
                    "(prepare.zero_means)",
            "beside_explicit_limits": {k: v["zeros_beside_limits"] for k, v in variables.items()
                                       if v["zeros_beside_limits"]},
        },
        "gross_outliers": outlier_report,
        "text_flags": {"rule": "TEXT_FLAGS of pipeline.prepare, extended by prepare.text_flags",
                       "added": {str(k): v for k, v in (settings["text_flags"] or {}).items()}},
        "twin_columns": {k: v["twins"] for k, v in variables.items() if v["twins"] is not None},
    }


def _campaigns_qa(campaigns, campaign_qa, settings):
    """The campaigns and censoring per campaign (with a campaign column), and the harmonising."""
    return {
        **({"campaigns": campaign_qa, "censoring_by_campaign": campaigns["censoring"]}
           if campaigns["labels"] is not None else {}),
        "harmonise_censoring": {
            "setting": settings["harmonise_censoring"],
            "on": settings["harmonise"],
            "below_limit": bool(settings["harmonise_below_limit"]),
            "rule": HARMONISE_RULE,
        },
        **({"harmonised_censoring": campaigns["harmonised"]} if settings["harmonise"] else {}),
    }


def _locations_qa(locations, has_value, rule):
    """How the rows were merged into locations, and the repeats that conflict."""
    n_rows, n_merged = len(locations["id"]), locations["n_merged"]
    return {
        "rule": rule,
        "rows": int(n_rows),
        "locations": int(len(n_merged)),
        "locations_with_repeats": int((n_merged > 1).sum()),
        "rows_merged_away": int(n_rows - len(n_merged)),
        "max_rows_at_one_location": int(n_merged.max()),
        "locations_dropped_without_values": int((~has_value).sum()),
        "locations_written": int(has_value.sum()),
        "key": "identical input coordinates",
        **locations["duplicates"],
    }
