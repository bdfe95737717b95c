"""QA shared by samples and sites, the console summaries and warnings, duplicates.csv."""

import pandas as pd

from .locate import _number_hint
from .values import _is_number

#: a stage that drops more than this share of its rows says so as a warning
DROPPED_ROWS_WARNING = 0.05


# ---------------------------------------------------------------- parts of the QA dict

def _rows_qa(path, table, rows_kept, rejections, points_qa):
    """The opening of a stage's QA: the file, its rows read, kept and rejected, and the coordinates."""
    return {
        "file": str(path),
        "layer": table.attrs.get("layer"),
        "row_numbering": table.attrs["row_numbering"],
        "rows_read": len(table),
        "rows_kept": rows_kept,
        "rows_rejected": _rejection_summary(rejections),
        **points_qa,
    }


def _rejection_summary(rejections):
    by_reason = {}
    for r in rejections:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    return {"count": len(rejections), "by_reason": by_reason, "rows": rejections}


def _decimal_qa(table):
    columns = table.attrs.get("decimal_commas") or {}
    return {"setting": table.attrs.get("decimal"), "separator": table.attrs.get("separator"),
            "cells_read_with_decimal_comma": int(sum(columns.values())), "columns": dict(columns)}


def _encoding_qa(table):
    return {"name": table.attrs.get("encoding"), "reason": table.attrs.get("encoding_reason")}


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
    from ..atomic import atomic_path

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


# ---------------------------------------------------------------- console summaries

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
    from ..survey_io import outside_bounds

    xy = samples.get_coordinates().to_numpy()
    bounds = (*xy.min(axis=0), *xy.max(axis=0))
    return outside_bounds(sites.get_coordinates().to_numpy(), bounds)
