"""QGIS style sidecars (.qml) for the probability and spread (uncertainty) maps.

QGIS looks for ``<raster name>.qml`` beside a raster when it opens it and
applies it as the layer's default style, so a map written with its sidecar
opens already coloured: a single-band pseudocolour ramp fixed to 0..1 (the
same ramp as the report figures), cells at the file's nodata value left
transparent. The XML follows what QGIS 3.22 writes itself with "Save as
default style"; older and newer 3.x versions read it too.
"""

from pathlib import Path
from xml.etree import ElementTree as ET

from .atomic import write_text
from .errors import InputError

#: viridis at eleven evenly spaced stops (the report's PROBABILITY_CMAP):
#: perceptually uniform, readable in grey and for colour-blind users.
VIRIDIS = ("#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c",
           "#22a884", "#44bf70", "#7ad151", "#bddf26", "#fde725")
#: magma at eleven evenly spaced stops (the report's SPREAD_CMAP) for the spread
#: maps: a ramp unlike the probability's, so the two are not mistaken for each other.
MAGMA = ("#000004", "#140e36", "#3b0f70", "#641a80", "#8c2981", "#b73779", "#de4968", "#f7705c", "#fe9f6d",
         "#fecf92", "#fcfdbf")
#: a diverging ramp (RdBu reversed, eleven stops) for signed maps such as logit shares: blue lowers, red raises
DIVERGING = ("#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
             "#b2182b", "#67001f")
#: Top of the spread maps' fixed range: the largest population std of values in [0, 1].
SPREAD_MAX = 0.5
QGIS_VERSION = "3.22.16-Białowieża"


def sidecar_path(raster_path):
    """The path QGIS reads a raster's default style from: same name, .qml."""
    return Path(raster_path).with_suffix(".qml")


def _rgba(hex_colour):
    h = hex_colour.lstrip("#")
    if len(h) != 6:
        raise InputError(f"colour must be #rrggbb, got {hex_colour!r}")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},255"


def _sub(parent, tag, text=None, **attrs):
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = str(text)
    return el


def _option(parent, name, value, kind="QString"):
    return _sub(parent, "Option", name=name, type=kind, value=value)


def pseudocolor_qml(*, band=1, vmin=0.0, vmax=1.0, colours=VIRIDIS, label_precision=2, opacity=1.0):
    """QML text of a single-band pseudocolour style with a fixed value range.

    ``colours`` are spread evenly from ``vmin`` to ``vmax`` and interpolated
    between; the range is fixed (min/max limits "None"), so QGIS never
    re-stretches it to the data and maps stay comparable with each other.
    """
    vmin, vmax = float(vmin), float(vmax)
    if not vmax > vmin:
        raise InputError(f"style range must have vmax > vmin, got {vmin}..{vmax}")
    if len(colours) < 2:
        raise InputError("a colour ramp needs at least two colours")
    root = ET.Element("qgis", {"version": QGIS_VERSION, "styleCategories": "AllStyleCategories",
                               "hasScaleBasedVisibilityFlag": "0", "minScale": "1e+08", "maxScale": "0"})
    pipe = _sub(root, "pipe")
    provider = _sub(pipe, "provider")
    _sub(provider, "resampling", enabled="false", zoomedInResamplingMethod="nearestNeighbour",
         zoomedOutResamplingMethod="nearestNeighbour", maxOversampling=2)
    # nodataColor "" = transparent: cells at the GeoTIFF's nodata value are not drawn
    renderer = _sub(pipe, "rasterrenderer", type="singlebandpseudocolor", band=int(band), opacity=opacity,
                    alphaBand=-1, nodataColor="", classificationMin=f"{vmin:g}", classificationMax=f"{vmax:g}")
    _sub(renderer, "rasterTransparency")
    origin = _sub(renderer, "minMaxOrigin")
    for tag, text in (("limits", "None"), ("extent", "WholeRaster"), ("statAccuracy", "Estimated"),
                      ("cumulativeCutLower", "0.02"), ("cumulativeCutUpper", "0.98"), ("stdDevFactor", "2")):
        _sub(origin, tag, text)
    shader = _sub(_sub(renderer, "rastershader"), "colorrampshader", colorRampType="INTERPOLATED",
                  classificationMode=1, clip=0, minimumValue=f"{vmin:g}", maximumValue=f"{vmax:g}",
                  labelPrecision=int(label_precision))
    ramp = _sub(shader, "colorramp", name="[source]", type="gradient")
    n = len(colours)
    stops = ":".join(f"{k / (n - 1):g};{_rgba(c)}" for k, c in enumerate(colours[1:-1], start=1))
    props = {"color1": _rgba(colours[0]), "color2": _rgba(colours[-1]), "discrete": "0",
             "rampType": "gradient", "stops": stops}
    options = _sub(ramp, "Option", type="Map")
    for k, v in props.items():
        _option(options, k, v)
    for k, v in props.items():  # the older form, read by QGIS before 3.16
        _sub(ramp, "prop", k=k, v=v)
    for k, colour in enumerate(colours):
        value = vmin + (vmax - vmin) * k / (n - 1)
        _sub(shader, "item", value=f"{value:g}", color=colour, alpha=255,
             label=f"{value:.{int(label_precision)}f}")
    _sub(shader, "rampLegendSettings", prefix="", suffix="", direction=0, orientation=2, minimumLabel="",
         maximumLabel="", useContinuousLegend=1)
    _sub(pipe, "brightnesscontrast", brightness=0, contrast=0, gamma=1)
    _sub(pipe, "huesaturation", saturation=0, grayscaleMode=0, invertColors=0, colorizeOn=0, colorizeRed=255,
         colorizeGreen=128, colorizeBlue=128, colorizeStrength=100)
    _sub(pipe, "rasterresampler", maxOversampling=2)
    _sub(root, "blendMode", "0")
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"


def write_probability_style(raster_path, qml_path=None, *, band=1):
    """Write the 0..1 probability style beside ``raster_path`` (or to ``qml_path``).

    Returns the .qml path. The raster need not exist yet; the style only
    names a band.
    """
    qml_path = Path(qml_path) if qml_path is not None else sidecar_path(raster_path)
    if qml_path.suffix.lower() != ".qml":
        raise InputError("a QGIS style file must end in .qml (QGIS looks for <raster name>.qml)", path=qml_path)
    write_text(qml_path, pseudocolor_qml(band=band, vmin=0.0, vmax=1.0))
    return qml_path


def write_spread_style(raster_path, qml_path=None, *, band=1):
    """Write the style of a spread (uncertainty) map beside ``raster_path``: magma,
    fixed to 0..0.5 (the most a population std of probabilities can be), so the
    spread maps of different methods are coloured alike. Returns the .qml path."""
    qml_path = Path(qml_path) if qml_path is not None else sidecar_path(raster_path)
    if qml_path.suffix.lower() != ".qml":
        raise InputError("a QGIS style file must end in .qml (QGIS looks for <raster name>.qml)", path=qml_path)
    write_text(qml_path, pseudocolor_qml(band=band, vmin=0.0, vmax=SPREAD_MAX, colours=MAGMA))
    return qml_path


def write_attribution_style(qml_path, *, band, limit):
    """The style of an attribution map: band ``band`` (1-based) on the diverging ramp, symmetric about 0 to
    +-``limit`` (an input's share of the logit: red raises the cell, blue lowers it)."""
    qml_path = Path(qml_path)
    if qml_path.suffix.lower() != ".qml":
        raise InputError("a QGIS style file must end in .qml (QGIS looks for <raster name>.qml)", path=qml_path)
    limit = float(limit)
    write_text(qml_path, pseudocolor_qml(band=band, vmin=-limit, vmax=limit, colours=DIVERGING))
    return qml_path
