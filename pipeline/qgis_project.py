"""A QGIS project file (.qgs) of a finished run: the maps styled, in groups.

Written without QGIS (the workflow's environment has none): the XML holds
what QGIS 3.22 reads back from a project, namely the layer tree (groups and
layers), one ``<maplayer>`` per layer with its data source relative to the
project file, its CRS and its style. Each raster takes its ``.qml`` sidecar's ``<pipe>``
(the style QGIS applies on opening the file); reference maps, for which the
workflow writes none, first get a sidecar with a ramp over their own range. The test opens the project with real QGIS.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pyogrio
import pyproj
import rasterio
import rasterio.crs

from .atomic import write_text
from .errors import InputError
from .evaluation.tables import METHOD_LABELS
from .qgis_style import MAGMA, QGIS_VERSION, pseudocolor_qml, sidecar_path

#: (group, file pattern under results/<dataset>/, layer name) in drawing order, top first
GROUPS = (
    ("Prospectivity", "maps/*_probability.tif", "{name} prospectivity"),
    ("Uncertainty", "maps/*_uncertainty.tif", "{name} spread over folds"),
    ("Attribution", "maps/*_attribution.tif", "{name}: each element's share of the logit"),
    ("References", "maps/reference/*.tif", "{name}"),
    ("Survey", "prepare/*.gpkg", "{name}"),
)
#: names of the maps that are no trained method (those take METHOD_LABELS, the tables' and report's names)
_LABELS = {"commodity": "commodity element (reference)", "sampling_density": "sampling density (probe)",
           "robust_anomaly": "robust anomaly (reference)", "samples": "samples", "sites": "mineral sites"}


@dataclass
class ProjectLayer:
    group: str
    name: str
    path: Path
    kind: str  # raster | vector
    layer: str | None = None


def run_layers(run_dir, dataset):
    """The layers of ``dataset``'s results in ``run_dir``, grouped as GROUPS orders them."""
    base = Path(run_dir) / "results" / dataset
    if not base.is_dir():
        raise InputError(f"no results for dataset {dataset!r}: run `skt run` first", path=base)
    layers = []
    for group, pattern, label in GROUPS:
        for path in sorted(base.glob(pattern)):
            stem = re.sub(r"_(probability|uncertainty|attribution)$", "", path.stem)
            name = label.format(name=_LABELS.get(stem) or METHOD_LABELS.get(stem, stem.replace("_", " ")))
            if path.suffix == ".gpkg":
                for info in pyogrio.list_layers(path):
                    layers.append(ProjectLayer(group, name, path, "vector", str(info[0])))
            else:
                layers.append(ProjectLayer(group, name, path, "raster"))
    if not any(lay.group == "Prospectivity" for lay in layers):
        raise InputError(f"no prospectivity map under {base / 'maps'} yet: run `skt run` first", path=base)
    return layers


def _srs(parent, crs):
    """``crs`` (a rasterio CRS) as QGIS writes it. The WKT is GDAL's WKT1 with its authority codes, which
    QGIS 3.22's older PROJ reads back as the EPSG code; the WKT2 of a newer PROJ database need not be
    (Kolari's EPSG:3067 is named EUREF-FIN there, with a datum code QGIS 3.22 does not know)."""
    srs = ET.SubElement(parent, "spatialrefsys", nativeFormat="Wkt")
    ET.SubElement(srs, "wkt").text = crs.to_wkt()
    authority = crs.to_authority()
    ET.SubElement(srs, "authid").text = f"{authority[0]}:{authority[1]}" if authority else ""
    ET.SubElement(srs, "description").text = pyproj.CRS.from_user_input(crs.to_wkt()).name
    return srs


def ensure_style(path):
    """The raster's .qml sidecar, written first where the workflow wrote none (the reference maps): a ramp over
    the map's own range, magma for the sampling-density probe so it is not mistaken for a prospectivity map."""
    qml = sidecar_path(path)
    if qml.exists():
        return qml
    with rasterio.open(path) as src:
        data = src.read(1, masked=True)
    values = data.compressed() if np.ma.isMaskedArray(data) else data.ravel()
    values = values[np.isfinite(values)]
    vmin, vmax = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if not vmax > vmin:
        vmax = vmin + 1.0
    colours = {"colours": MAGMA} if Path(path).stem == "sampling_density" else {}
    write_text(qml, pseudocolor_qml(vmin=vmin, vmax=vmax, **colours))
    return qml


def _raster_pipe(path):
    text = ensure_style(path).read_text()
    root = ET.fromstring(text.split("\n", 1)[1] if text.startswith("<!DOCTYPE") else text)
    return root.find("pipe")


def _crs_of(layer):
    """The layer's CRS as GDAL reads it (a rasterio CRS), or None."""
    if layer.kind == "raster":
        with rasterio.open(layer.path) as src:
            return src.crs
    info = pyogrio.read_info(layer.path, layer=layer.layer)
    return rasterio.crs.CRS.from_user_input(info["crs"]) if info.get("crs") else None


def project_xml(layers, project_dir, title):
    """The .qgs text holding ``layers`` with data sources relative to ``project_dir``."""
    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION)
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = title
    crs = next((c for c in (_crs_of(lay) for lay in layers) if c is not None), None)
    if crs is None:
        raise InputError("no layer of the run has a CRS", path=project_dir)
    _srs(ET.SubElement(root, "projectCrs"), crs)
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    maplayers = ET.SubElement(root, "projectlayers")
    groups = {}
    for k, layer in enumerate(layers):
        source = "./" + Path(layer.path).resolve().relative_to(Path(project_dir).resolve()).as_posix()
        if layer.kind == "vector":
            source += f"|layername={layer.layer}"
        layer_id = f"skt_{re.sub(r'[^A-Za-z0-9]+', '_', layer.name).strip('_')}_{k}"
        if layer.group not in groups:
            groups[layer.group] = ET.SubElement(tree, "layer-tree-group", name=layer.group, checked="Qt::Checked",
                                                expanded="1")
            ET.SubElement(groups[layer.group], "customproperties")
        # only the top map of the first group is drawn on opening: the others stay one click away
        visible = "Qt::Checked" if layer.group in ("Prospectivity", "Survey") and (
            layer.kind == "vector" or k == 0) else "Qt::Unchecked"
        node = ET.SubElement(groups[layer.group], "layer-tree-layer", id=layer_id, name=layer.name, source=source,
                             providerKey="gdal" if layer.kind == "raster" else "ogr", checked=visible, expanded="1")
        ET.SubElement(node, "customproperties")
        attrs = {"type": layer.kind}
        if layer.kind == "vector":
            attrs.update(geometry="Point", wkbType="Point")
        element = ET.SubElement(maplayers, "maplayer", attrs)
        ET.SubElement(element, "id").text = layer_id
        ET.SubElement(element, "datasource").text = source
        ET.SubElement(element, "layername").text = layer.name
        layer_crs = _crs_of(layer) or crs
        _srs(ET.SubElement(element, "srs"), layer_crs)
        ET.SubElement(element, "provider").text = "gdal" if layer.kind == "raster" else "ogr"
        if layer.kind == "raster":
            element.append(_raster_pipe(Path(layer.path)))
    properties = ET.SubElement(root, "properties")
    paths = ET.SubElement(properties, "Paths")
    ET.SubElement(paths, "Absolute", type="bool").text = "false"
    # QGIS reads <projectCrs> only with this entry set
    ET.SubElement(ET.SubElement(properties, "SpatialRefSys"), "ProjectionsEnabled", type="int").text = "1"
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"


def write_project(run_dir, dataset, path=None):
    """Write ``run_dir/<dataset>.qgs`` (or ``path``, inside ``run_dir``) and return its path."""
    run_dir = Path(run_dir)
    path = Path(path) if path is not None else run_dir / f"{dataset}.qgs"
    if path.suffix != ".qgs":
        raise InputError("a QGIS project file must end in .qgs", path=path)
    layers = run_layers(run_dir, dataset)
    write_text(path, project_xml(layers, path.parent, f"{dataset}: prospectivity (SKT workflow)"))
    return path
