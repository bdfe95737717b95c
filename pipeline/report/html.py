"""A self-contained HTML page: figures embedded as base64 PNG, tables from
DataFrames, inline CSS, no scripts and no external files, so the report can
be mailed or archived as one file and still show everything."""

import base64
import html
import json
import math
from pathlib import Path

import pandas as pd

from ..atomic import write_text

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 0 1.5em 3em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #440154; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
nav ul { columns: 3; font-size: .9em; }
table { border-collapse: collapse; font-size: .85em; margin: .6em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f0eef5; }
td.text, th.text { text-align: left; }
tr.selected td { background: #eaf6ea; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #444; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: .8em; }
.note { color: #8a6d3b; background: #fcf8e3; padding: .4em .8em; border-left: 3px solid #e0c36c; }
.muted { color: #666; font-size: .9em; }
"""


def esc(text):
    return html.escape(str(text), quote=True)


def image_data_uri(png_path):
    data = base64.b64encode(Path(png_path).read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def figure(png_path, caption, *, alt=None):
    """<figure> with the PNG embedded."""
    return (f'<figure><img src="{image_data_uri(png_path)}" alt="{esc(alt or caption)}" '
            f'data-file="{esc(Path(png_path).name)}"><figcaption>{esc(caption)}</figcaption></figure>')


def _format_cell(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) >= 1e4 or (0 < abs(value) < 1e-3) else f"{value:.{digits}f}"
    return str(value)


def table(frame, *, digits=3, highlight=None, caption=None, max_rows=500):
    """HTML table of a DataFrame (index dropped), numbers right-aligned.

    ``highlight``: optional boolean Series/array marking rows to shade.
    Longer tables are cut at ``max_rows`` with a note.
    """
    frame = pd.DataFrame(frame)
    cut = len(frame) > max_rows
    shown = frame.head(max_rows)
    flags = list(pd.Series(highlight).fillna(False).astype(bool))[:len(shown)] if highlight is not None else []
    numeric = {c for c in shown.columns if pd.api.types.is_numeric_dtype(shown[c])
               and not pd.api.types.is_bool_dtype(shown[c])}
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(
        f'<th class="{"num" if c in numeric else "text"}">{esc(c)}</th>' for c in shown.columns) + "</tr></thead>")
    out.append("<tbody>")
    for i, row in enumerate(shown.itertuples(index=False)):
        cls = ' class="selected"' if i < len(flags) and flags[i] else ""
        cells = "".join(
            f'<td class="{"num" if c in numeric else "text"}">{esc(_format_cell(v, digits))}</td>'
            for c, v in zip(shown.columns, row))
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</tbody></table>")
    if cut:
        out.append(f'<p class="muted">First {max_rows} of {len(frame)} rows.</p>')
    return "".join(out)


def key_values(pairs, *, digits=4):
    """Two-column table of (name, value) pairs."""
    rows = [(k, v if not isinstance(v, (dict, list)) else json.dumps(v)) for k, v in pairs]
    return table(pd.DataFrame(rows, columns=["item", "value"]).astype({"value": object}), digits=digits)


def pre(text):
    return f"<pre>{esc(text)}</pre>"


def note(text):
    return f'<p class="note">{esc(text)}</p>'


def paragraph(text):
    return f"<p>{esc(text)}</p>"


def details(summary, body_html):
    return f"<details><summary>{esc(summary)}</summary>{body_html}</details>"


def links(items):
    """Bulleted list of (label, relative href, description)."""
    rows = "".join(f'<li><a href="{esc(href)}">{esc(label)}</a> <span class="muted">{esc(desc)}</span></li>'
                   for label, href, desc in items)
    return f"<ul>{rows}</ul>"


def page(title, sections, *, subtitle=None):
    """Whole HTML document; ``sections`` is a list of (anchor, heading, body html)."""
    nav = "".join(f'<li><a href="#{esc(a)}">{esc(h)}</a></li>' for a, h, _ in sections)
    body = "".join(f'<section id="{esc(a)}"><h2>{esc(h)}</h2>{b}</section>' for a, h, b in sections)
    sub = f'<p class="muted">{esc(subtitle)}</p>' if subtitle else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{esc(title)}</h1>{sub}<nav><ul>{nav}</ul></nav>{body}</body></html>\n")


def write_page(path, title, sections, *, subtitle=None):
    write_text(path, page(title, sections, subtitle=subtitle))
    return Path(path)
