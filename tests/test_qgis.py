"""The workflow's GeoTIFFs and GeoPackages opened with real QGIS (Debian's
python3-qgis, run by the system Python in a subprocess, headless).

Every layer must be valid in the working CRS with the band statistics
rasterio reads, every probability map must open with its .qml style
(pseudocolour 0..1, nodata transparent) and every spread map of the
cross-validation models with its own (magma 0..0.5). No GeoPackage may draw
GDAL 3.6's "GeoPackage v1.4.0 may only be partially supported" warning. Install QGIS with .ci/setup_qgis.sh;
the module skips only where QGIS is missing and CI is unset.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from scipy.ndimage import binary_erosion

from pipeline.qgis_style import MAGMA, SPREAD_MAX, VIRIDIS
from pipeline.vectors import GPKG_USER_VERSION, gpkg_version
from qgis_helpers import SYSTEM_PYTHON, clean_env, qgis_importable, skip_reason
from workflow_helpers import snakemake, tiny_config, write_config

WORKING_CRS = "EPSG:32649"


pytestmark = [
    pytest.mark.workflow,
    pytest.mark.skipif(not qgis_importable() and not os.environ.get("CI"), reason=skip_reason()),
]

# Runs inside /usr/bin/python3 with QGIS: one JSON record per layer.
CHECKER = r'''
import json, sys
from qgis.core import (Qgis, QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings, QgsRasterBandStats,
                       QgsRasterLayer, QgsRectangle, QgsVectorLayer, QgsWkbTypes)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def raster(item):
    layer = QgsRasterLayer(item["path"], "layer", "gdal")  # applies <name>.qml, as opening it in QGIS does
    out = {"valid": layer.isValid()}
    if not layer.isValid():
        return out
    provider = layer.dataProvider()
    stats = provider.bandStatistics(1, QgsRasterBandStats.All, QgsRectangle(), 0)  # 0: every cell
    out.update(crs=layer.crs().authid(), width=layer.width(), height=layer.height(), bands=layer.bandCount(),
               min=stats.minimumValue, max=stats.maximumValue, mean=stats.mean, count=stats.elementCount,
               nodata=provider.sourceNoDataValue(1) if provider.sourceHasNoDataValue(1) else None,
               renderer_on_open=layer.renderer().type())
    message, loaded = layer.loadDefaultStyle()
    renderer = layer.renderer()
    out.update(default_style_loaded=bool(loaded), renderer=renderer.type())
    if renderer.type() == "singlebandpseudocolor":
        shader = renderer.shader().rasterShaderFunction()
        out.update(band=renderer.band(), range=[renderer.classificationMin(), renderer.classificationMax()],
                   ramp=[[i.value, i.color.name()] for i in shader.colorRampItemList()])
    if item.get("pixels"):
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(layer.crs())
        settings.setExtent(layer.extent())
        settings.setOutputSize(QSize(layer.width(), layer.height()))  # one image pixel per cell
        settings.setBackgroundColor(QColor(0, 0, 0, 0))
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        image = job.renderedImage()
        out["pixels"] = [list(QColor.fromRgba(image.pixel(c, r)).getRgb()) for r, c in item["pixels"]]
    return out


def vector(item):
    layer = QgsVectorLayer(item["path"] + "|layername=" + item["layer"], item["layer"], "ogr")
    out = {"valid": layer.isValid()}
    if layer.isValid():
        out.update(crs=layer.crs().authid(), features=layer.featureCount(),
                   fields=[f.name() for f in layer.fields()], geometry=QgsWkbTypes.displayString(layer.wkbType()))
    return out


QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
items = json.load(open(sys.argv[1]))
result = {"qgis": Qgis.QGIS_VERSION,
          "layers": [raster(i) if i["kind"] == "raster" else vector(i) for i in items]}
json.dump(result, open(sys.argv[2], "w"))
app.exitQgis()
'''


def small_config():
    """The tiny demo run with one baseline of each dense kind and no ablations: every kind of output, quickly."""
    config = tiny_config()
    config["baselines"].update(classical=["decision_tree"], pixel=["decision_tree"], cnn=[])
    config["evaluate"].update(ablations=[], beta_sweep=False)
    return config


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    work = tmp_path_factory.mktemp("qgis_workflow")
    configfile = write_config(small_config(), work / "config.yaml")
    snakemake(work, configfile, "results/demo/report/report.html")
    return work / "results" / "demo"


def _interior(mask):
    """One cell well inside ``mask`` (its 5 x 5 neighbourhood in it too)."""
    cells = np.argwhere(binary_erosion(mask, np.ones((5, 5), bool)))
    assert len(cells), "no interior cell to sample"
    return [int(v) for v in cells[len(cells) // 2]]


def _items(results):
    items = []
    for path in sorted(results.glob("rasters/*.tif")) + [results / "stack" / "zscore.tif"] + sorted(
            results.glob("maps/*.tif")):
        item = {"kind": "raster", "path": str(path)}
        if path.parent.name == "maps":
            with rasterio.open(path) as src:
                valid = src.read_masks(1) > 0
            item["pixels"] = [_interior(valid), _interior(~valid)]
        items.append(item)
    for path in [results / "prepare" / "samples.gpkg", results / "prepare" / "sites.gpkg",
                 results / "tiles" / "index.gpkg", results / "maps" / "skt_windows.gpkg"]:
        for name, _ in pyogrio.list_layers(path):
            items.append({"kind": "vector", "path": str(path), "layer": str(name)})
    return items


def _run_checker(items, tmp):
    """CHECKER over ``items`` in QGIS: (its JSON output, the finished process)."""
    (tmp / "items.json").write_text(json.dumps(items))
    (tmp / "checker.py").write_text(CHECKER)
    run = subprocess.run([SYSTEM_PYTHON, str(tmp / "checker.py"), str(tmp / "items.json"), str(tmp / "out.json")],
                         capture_output=True, text=True, env=clean_env(tmp / "home"), timeout=300)
    assert run.returncode == 0, f"QGIS checker failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    out = json.loads((tmp / "out.json").read_text())
    assert out["qgis"].startswith("3.")
    return out, run


@pytest.fixture(scope="module")
def checked(results, tmp_path_factory):
    """The checker run by QGIS over every output layer: (items, its records, the process)."""
    items = _items(results)
    out, run = _run_checker(items, tmp_path_factory.mktemp("qgis"))
    return items, out["layers"], run


@pytest.fixture(scope="module")
def opened(checked):
    """What QGIS reports for every output layer: {(path, layer or None): record}."""
    items, records, _ = checked
    return {(i["path"], i.get("layer")): (i, r) for i, r in zip(items, records)}


def _spread(path):
    """A spread (uncertainty) map of the cross-validation models, styled magma 0..0.5."""
    return str(path).endswith("_uncertainty.tif")


def test_every_output_is_a_valid_layer_in_the_working_crs(results, opened):
    kinds = {Path(path).parent.name for path, _ in opened}
    assert kinds == {"rasters", "stack", "maps", "prepare", "tiles"}
    maps = sorted(Path(k[0]).name for k in opened if k[0].endswith(".tif") and "/maps/" in k[0])
    # SKT, the baseline, and the spread of the baseline's cross-validation models
    assert maps == ["decision_tree_pixel_probability.tif", "decision_tree_pixel_uncertainty.tif",
                    "skt_probability.tif"], maps
    for (path, layer), (_, record) in opened.items():
        assert record["valid"], (path, layer)
        assert record["crs"] == WORKING_CRS, (path, layer, record["crs"])


def test_band_statistics_match_rasterio(opened):
    for (path, _), (item, record) in opened.items():
        if item["kind"] != "raster":
            continue
        with rasterio.open(path) as src:
            band = src.read(1, masked=True).astype(np.float64)
            assert (record["width"], record["height"], record["bands"]) == (src.width, src.height, src.count)
            assert record["nodata"] == src.nodata
        assert record["count"] == band.count(), path
        assert record["min"] == pytest.approx(float(band.min()), rel=1e-6), path
        assert record["max"] == pytest.approx(float(band.max()), rel=1e-6), path
        assert record["mean"] == pytest.approx(float(band.mean()), rel=1e-6), path


def _style(path):
    """(colours, top of the range) a map's .qml gives it."""
    return (MAGMA, SPREAD_MAX) if _spread(path) else (VIRIDIS, 1.0)


def test_probability_and_spread_maps_open_with_their_qml_style(opened):
    maps = [(path, record) for (path, _), (_, record) in opened.items() if "/maps/" in path and path.endswith(".tif")]
    assert any(_spread(path) for path, _ in maps)
    for path, record in maps:
        colours, top = _style(path)
        ramp = [[top * k / (len(colours) - 1), c] for k, c in enumerate(colours)]
        assert Path(path).with_suffix(".qml").exists(), path
        assert record["renderer_on_open"] == "singlebandpseudocolor", path
        assert record["default_style_loaded"] and record["renderer"] == "singlebandpseudocolor"
        assert record["band"] == 1 and record["range"] == [0.0, top]
        assert [[pytest.approx(v), c] for v, c in record["ramp"]] == ramp
    others = [record for (path, _), (item, record) in opened.items() if item["kind"] == "raster" and
              "/maps/" not in path]
    assert others and all(r["renderer"] != "singlebandpseudocolor" for r in others)  # no style: QGIS default


def _ramp_colour(value, colours=VIRIDIS, top=1.0):
    """The colour QGIS interpolates for ``value`` on the 0..``top`` ramp (linear in RGB between stops)."""
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=float)
    pos = np.linspace(0.0, top, len(colours))
    return [float(np.interp(value, pos, stops[:, k])) for k in range(3)]


def test_nodata_is_transparent_and_values_take_the_ramp_colour(opened):
    for (path, _), (item, record) in opened.items():
        if "pixels" not in item:
            continue
        (vr, vc), _ = item["pixels"]
        valid_rgba, nodata_rgba = record["pixels"]
        assert nodata_rgba[3] == 0, f"{path}: nodata cell drawn {nodata_rgba}"
        assert valid_rgba[3] == 255, f"{path}: valid cell transparent"
        with rasterio.open(path) as src:
            value = float(src.read(1)[vr, vc])
        assert np.allclose(valid_rgba[:3], _ramp_colour(value, *_style(path)), atol=3), (path, value, valid_rgba)


def test_vector_layers_keep_every_feature_and_readable_fields(opened):
    import geopandas as gpd

    for (path, layer), (item, record) in opened.items():
        if item["kind"] != "vector":
            continue
        frame = gpd.read_file(path, layer=layer)
        assert record["features"] == len(frame), (path, layer)
        fields = [f for f in record["fields"] if f != "fid"]
        assert fields == [c for c in frame.columns if c != "geometry"], (path, layer)
        assert all(f.replace("_", "").isalnum() for f in fields), fields
    geometry = {Path(p).name: r["geometry"] for (p, _), (i, r) in opened.items() if i["kind"] == "vector"}
    assert geometry["sites.gpkg"] == "Point" and geometry["index.gpkg"] == "Polygon"


def test_geopackages_open_without_the_version_warning(results, checked):
    """GDAL 3.6 under QGIS 3.22 warns "GeoPackage v1.4.0 may only be partially supported"
    on GDAL 3.8+'s default; the workflow writes GeoPackage 1.2 (user_version 10200)."""
    items, _, run = checked
    gpkgs = sorted({i["path"] for i in items if i["kind"] == "vector"})
    assert len(gpkgs) == 4
    for path in gpkgs:
        assert gpkg_version(path)[1] == GPKG_USER_VERSION == 10200, path
    text = run.stdout + run.stderr
    assert "may only be partially supported" not in text and "GeoPackage v1." not in text, text[-3000:]


def test_the_version_warning_is_seen_when_there_is_one(tmp_path):
    """Control for the test above: a GeoPackage in GDAL's own default version (1.4 from
    GDAL 3.8 on) does draw the warning in QGIS 3.22, so its absence above means something."""
    import geopandas as gpd
    from shapely.geometry import Point

    path = tmp_path / "default.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs=WORKING_CRS).to_file(path, layer="t", driver="GPKG")
    if gpkg_version(path)[1] < 10400:
        pytest.skip("this GDAL writes GeoPackage < 1.4 by default: nothing to warn about")
    out, run = _run_checker([{"kind": "vector", "path": str(path), "layer": "t"}], tmp_path)
    assert out["layers"][0]["valid"]
    if not out["qgis"].startswith("3.22"):
        pytest.skip(f"QGIS {out['qgis']}: the warning is GDAL 3.6's, under Debian's QGIS 3.22")
    assert "may only be partially supported" in run.stdout + run.stderr


def test_report_links_the_maps_and_their_styles(results):
    page = (results / "report" / "report.html").read_text()
    for name in ("skt_probability.tif", "skt_probability.qml", "decision_tree_pixel_probability.qml",
                 "decision_tree_pixel_uncertainty.tif", "decision_tree_pixel_uncertainty.qml",
                 "skt_windows.gpkg", "sites.gpkg", "index.gpkg"):
        assert name in page, name
    assert page.count("data:image/png;base64,") >= 10
