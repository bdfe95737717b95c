"""The QGIS Processing provider in real QGIS 3.22 (the system Python, headless): the algorithm runs the tiny
demo workflow through `skt`, streams its progress, loads the styled maps; a rerun does nothing; a cancelled run
stops and leaves no half-written file, and the next run finishes it."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import rasterio

from cli_helpers import tiny_settings
from qgis_helpers import SYSTEM_PYTHON, clean_env, qgis_importable, skip_reason
from workflow_helpers import REPO, temp_files

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.skipif(not qgis_importable() and not os.environ.get("CI"), reason=skip_reason()),
]
SKT = Path(sys.executable).with_name("skt")
DRIVER = Path(__file__).with_name("qgis_plugin_driver.py")


def _csv_layer(path):
    return {"uri": f"file://{path}?type=csv&delimiter=,&xField=X&yField=Y&crs=EPSG:32649&detectTypes=yes",
            "provider": "delimitedtext"}


def run_in_qgis(tmp, algorithm, parameters, *, layers=True, cancel_at_percent=None, plugins=REPO / "qgis_plugin"):
    request = {"algorithm": algorithm, "parameters": parameters, "cancel_at_percent": cancel_at_percent}
    if layers:
        request.update(samples=_csv_layer(REPO / "data" / "demo" / "samples.csv"),
                       sites=_csv_layer(REPO / "data" / "demo" / "sites.csv"))
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "request.json").write_text(json.dumps(request))
    run = subprocess.run([SYSTEM_PYTHON, str(DRIVER), str(plugins), str(tmp / "request.json"),
                          str(tmp / "out.json")], capture_output=True, text=True, env=clean_env(tmp / "home"),
                         timeout=900)
    assert run.returncode == 0, f"QGIS driver failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return json.loads((tmp / "out.json").read_text())


def parameters(folder, settings, skt=SKT):
    return {"FIELDS": [], "COMMODITY": "", "UNITS": "Au=ppb,Hg=ppb", "CORES": 2, "TARGET": 0, "GPU": False,
            "SETTINGS": str(settings), "SKT": str(skt), "OUTPUT_FOLDER": str(folder)}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The first run, from the plugin as `make qgis-plugin` zips it: it finds skt by the path the zip records."""
    work = tmp_path_factory.mktemp("qgis_plugin")
    subprocess.run(["make", "-s", "-C", str(REPO), "qgis-plugin", f"PLUGIN_DIST={work / 'dist'}",
                    f"VENV={Path(sys.executable).parent.parent}"], check=True, capture_output=True)
    with zipfile.ZipFile(work / "dist" / "skt_prospectivity.zip") as archive:
        archive.extractall(work / "plugins")
    assert (work / "plugins" / "skt_prospectivity" / "skt_path.txt").read_text().strip() == str(SKT)
    settings = tiny_settings(work / "tiny.yaml")
    folder = work / "run"
    return folder, settings, run_in_qgis(work / "first", "skt:prospectivity", parameters(folder, settings, skt=""),
                                         plugins=work / "plugins")


def test_the_algorithm_runs_the_workflow_and_streams_its_progress(finished):
    folder, _, out = finished
    assert out["ok"], out.get("error")
    assert out["percents"] and out["percents"][-1] == 100.0 and out["percents"] == sorted(out["percents"])
    assert any("steps" in line and "done" in line for line in out["lines"])
    config = (folder / "skt.yaml").read_text()
    assert "input/samples_samples.gpkg" in config and "Au: ppb" in config
    assert Path(out["results"]["PROJECT"]).name == "samples.qgs"


def test_the_maps_load_with_their_styles(finished):
    _, _, out = finished
    layers = {layer["name"]: layer for layer in out["layers"]}
    assert all(layer["valid"] for layer in layers.values()), layers
    skt_map = layers["Prospectivity: SKT (ours) prospectivity"]
    assert skt_map["renderer"] == "singlebandpseudocolor" and (skt_map["vmin"], skt_map["vmax"]) == (0.0, 1.0)
    spread = layers["Uncertainty: SKT (ours) spread over folds"]
    assert spread["renderer"] == "singlebandpseudocolor" and spread["vmax"] == 0.5
    for name in ("References: commodity element (reference)", "References: sampling density (probe)",
                 "References: robust anomaly (reference)"):
        assert layers[name]["renderer"] == "singlebandpseudocolor" and layers[name]["crs"] == "EPSG:32649"
    assert layers["Survey: mineral sites"]["features"] == 40
    assert set(out["results"]["LAYERS"]) == {layer["source"].split("|")[0] for layer in out["layers"]}


def test_a_second_run_on_the_same_layers_reruns_nothing(finished, tmp_path):
    folder, settings, _ = finished
    out = run_in_qgis(tmp_path, "skt:prospectivity", parameters(folder, settings))
    assert out["ok"], out.get("error")
    assert any("Nothing to be done" in line for line in out["lines"]), out["lines"][-20:]


def test_load_results_loads_a_finished_folder(finished, tmp_path):
    folder, _, first = finished
    out = run_in_qgis(tmp_path, "skt:load_results", {"FOLDER": str(folder), "SKT": str(SKT)}, layers=False)
    assert out["ok"], out.get("error")
    assert sorted(layer["name"] for layer in out["layers"]) == sorted(layer["name"] for layer in first["layers"])


def test_cancel_stops_the_run_cleanly_and_the_next_run_finishes_it(tmp_path):
    settings = tiny_settings(tmp_path / "tiny.yaml")
    folder = tmp_path / "run"
    out = run_in_qgis(tmp_path / "cancelled", "skt:prospectivity", parameters(folder, settings),
                      cancel_at_percent=20)
    assert not out["ok"] and "cancelled" in out["error"]
    assert out["seconds_after_cancel"] < 120
    assert max(out["percents"]) < 100
    assert not temp_files(folder)
    # every GeoTIFF left behind is whole (written under a temporary name, then renamed); what Snakemake marked
    # unfinished, the next run redoes
    for tif in folder.rglob("*.tif"):
        with rasterio.open(tif) as src:
            src.read()
    assert not (folder / "results" / "samples" / "maps" / "skt_probability.tif").exists()
    out = run_in_qgis(tmp_path / "again", "skt:prospectivity", parameters(folder, settings))
    assert out["ok"], out.get("error")
    assert (folder / "results" / "samples" / "maps" / "skt_probability.tif").exists()


PROJECT_READER = r'''
import json, sys
from qgis.core import QgsApplication, QgsProject
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
project = QgsProject.instance()
out = {"read": project.read(sys.argv[1]), "crs": project.crs().authid(), "groups": {}}
for group in project.layerTreeRoot().children():
    out["groups"][group.name()] = [{"name": n.name(), "valid": bool(n.layer() and n.layer().isValid()),
                                    "crs": n.layer().crs().authid() if n.layer() else None,
                                    "renderer": n.layer().renderer().type() if n.layer() else None,
                                    "visible": n.isVisible()} for n in group.children()]
with open(sys.argv[2], "w") as f:
    json.dump(out, f)
app.exitQgis()
'''


def test_the_project_file_opens_in_qgis_with_its_crs_groups_and_styles(finished, tmp_path):
    _, _, out = finished
    (tmp_path / "reader.py").write_text(PROJECT_READER)
    run = subprocess.run([SYSTEM_PYTHON, str(tmp_path / "reader.py"), out["results"]["PROJECT"],
                          str(tmp_path / "out.json")], capture_output=True, text=True,
                         env=clean_env(tmp_path / "home"), timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    project = json.loads((tmp_path / "out.json").read_text())
    assert project["read"] and project["crs"] == "EPSG:32649"
    assert list(project["groups"]) == ["Prospectivity", "Uncertainty", "References", "Survey"]
    layers = [layer for group in project["groups"].values() for layer in group]
    assert all(layer["valid"] and layer["crs"] == "EPSG:32649" for layer in layers), layers
    rasters = [layer for name in ("Prospectivity", "Uncertainty", "References") for layer in project["groups"][name]]
    assert all(layer["renderer"] == "singlebandpseudocolor" for layer in rasters)
    # the SKT map and the survey points are drawn on opening, the rest one click away
    assert [layer["name"] for layer in layers if layer["visible"]] == [
        "SKT (ours) prospectivity", "samples", "mineral sites"]
