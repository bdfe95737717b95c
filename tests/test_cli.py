"""`skt init / run / status / open` on real files: the demo survey, and Kolari's GeoPackages with only
--sites and --commodity given (where SKT_SHARED_DATA is set). The runs use the tiny workflow settings."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml

from cli_helpers import tiny_settings
from pipeline.survey_init import (coordinate_columns, dataset_name, init_survey, lonlat_like, nice_distance)
from workflow_helpers import REPO, temp_files

SKT = [sys.executable, "-m", "pipeline.cli"]
DEMO_SAMPLES = REPO / "data" / "demo" / "samples.csv"
DEMO_SITES = REPO / "data" / "demo" / "sites.csv"
SHARED = os.environ.get("SKT_SHARED_DATA")


def skt(*args, cwd=None, check=True):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([*SKT, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"skt {' '.join(map(str, args))} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


# ------------------------------------------------------------------ decisions, without a run

def test_coordinate_pairs_are_found_by_name_and_geometry_wins():
    import pandas as pd

    table = pd.DataFrame({"SampleID": [1], "EASTING": [4.0e5], "Northing": [7.5e6], "Au_ppb": [1.0]})
    assert coordinate_columns(table) == ("EASTING", "Northing")
    table.attrs["geometry_x"] = "geometry_x"
    assert coordinate_columns(table) == (None, None)
    with pytest.raises(Exception, match="no coordinate columns found.*SampleID"):
        coordinate_columns(pd.DataFrame({"SampleID": [1], "Au": [1.0]}))


def test_lonlat_is_told_from_metres():
    import pandas as pd

    assert lonlat_like(pd.DataFrame({"X": [118.21, 118.22], "Y": [-34.30, -34.29]}), "X", "Y")
    assert not lonlat_like(pd.DataFrame({"X": [411826.0, 411900.0], "Y": [2431415.0, 2431500.0]}), "X", "Y")
    # whole numbers below 180 are more likely a local grid than degrees
    assert not lonlat_like(pd.DataFrame({"X": [10, 20], "Y": [30, 40]}), "X", "Y")


def test_distances_round_up_to_what_a_person_writes():
    assert [nice_distance(v) for v in (434, 651, 1864, 2796, 4707, 100, 150)] == \
        [500, 1000, 2000, 5000, 5000, 100, 200]


def test_dataset_names_come_from_the_file_or_its_folder():
    assert dataset_name("/x/gtk_kolari/till_geochemistry.gpkg") == "till_geochemistry"
    assert dataset_name("/x/gswa_katanning/samples.csv") == "gswa_katanning"
    assert dataset_name("/x/pooled.csv") == "pooled_survey"
    assert dataset_name("/x/a b.csv", "my-survey") == "my-survey"


def test_demo_config_names_what_the_files_hold():
    config, notes = init_survey(DEMO_SAMPLES, DEMO_SITES, crs="EPSG:32649")
    entry = config["datasets"]["demo"]
    assert (entry["x_column"], entry["y_column"], entry["crs"]) == ("X", "Y", "EPSG:32649")
    assert entry["samples"] == str(DEMO_SAMPLES.resolve())
    # commodity left to the workflow, which reads the sites' commodity column (Au on half the demo's sites)
    assert config["evaluate"]["commodity"] is None and any("commodity column (now: Au)" in n for n in notes)
    # the demo's median spacing is 217 m: 2 and 3 spacings rounded up
    assert config["screen"]["label_radius"] == 500 and config["interpolate"]["max_distance"] == 1000
    assert any("no unit in the name of Au" in n for n in notes)


def test_an_excel_sheet_is_read_by_its_name(tmp_path):
    import pandas as pd
    import pyogrio

    book = tmp_path / "lab_2024.xlsx"
    pyogrio.write_dataframe(pd.DataFrame({"note": ["assays on the next sheet"]}), book, layer="readme",
                            driver="XLSX")
    pyogrio.write_dataframe(pd.read_csv(DEMO_SAMPLES).head(300), book, layer="assays", driver="XLSX", append=True)
    result = skt("init", book, "--sites", DEMO_SITES, "--crs", "EPSG:32649", "--out", tmp_path / "a", check=False)
    assert result.returncode == 2 and "sheet) 'readme' of readme, assays: choose another with --layer" in result.stderr
    skt("init", book, "--sites", DEMO_SITES, "--crs", "EPSG:32649", "--layer", "assays", "--out", tmp_path / "b")
    entry = yaml.safe_load((tmp_path / "b" / "skt.yaml").read_text())["datasets"]["lab_2024"]
    assert entry["samples_layer"] == "assays" and entry["x_column"] == "X"


def test_without_a_crs_metre_coordinates_stop_with_the_flag_to_use(tmp_path):
    result = skt("init", DEMO_SAMPLES, "--sites", DEMO_SITES, "--out", tmp_path / "run", check=False)
    assert result.returncode == 2
    assert "--crs" in result.stderr and "samples.csv" in result.stderr and "'X'" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_commodity_the_survey_did_not_measure_stops(tmp_path):
    result = skt("init", DEMO_SAMPLES, "--sites", DEMO_SITES, "--crs", "EPSG:32649", "--commodity", "Ni",
                 "--out", tmp_path / "run", check=False)
    assert result.returncode == 2 and "commodity Ni is not among the survey's elements" in result.stderr


def test_init_refuses_to_overwrite_and_the_config_validates(tmp_path):
    out = tmp_path / "run"
    skt("init", DEMO_SAMPLES, "--sites", DEMO_SITES, "--crs", "EPSG:32649", "--units", "Au=ppb,Hg=ppb",
        "--out", out)
    text = (out / "skt.yaml").read_text()
    assert text.startswith("# Survey configuration written by `skt init`")
    config = yaml.safe_load(text)
    assert config["datasets"]["demo"]["units"] == {"Au": "ppb", "Hg": "ppb"}
    from pipeline.config import load_config

    load_config(out / "skt.yaml")
    again = skt("init", DEMO_SAMPLES, "--sites", DEMO_SITES, "--crs", "EPSG:32649", "--out", out, check=False)
    assert again.returncode == 2 and "--force" in again.stderr


@pytest.mark.parametrize("ignores_sigint", [False, True], ids=["stops", "ignores SIGINT"])
def test_run_streaming_cancel_leaves_nothing_of_the_run_running(tmp_path, ignores_sigint):
    sys.path.insert(0, str(REPO / "qgis_plugin"))
    from skt_prospectivity.runner import progress_of, run_streaming

    assert progress_of("12 of 27 steps (44%) done") == 44.0 and progress_of("Finished jobid: 3") is None
    child = tmp_path / "child.pid"
    ignore = "signal.signal(signal.SIGINT, signal.SIG_IGN); " if ignores_sigint else ""
    # a grandchild in a process group of its own, as Snakemake is under skt
    script = (f"import signal, subprocess, time; {ignore}p = subprocess.Popen(['sleep', '60'], process_group=0); "
              f"open({str(child)!r}, 'w').write(str(p.pid)); print('1 of 4 steps (25%) done', flush=True); "
              "time.sleep(60)")
    lines, percents = [], []
    start = time.monotonic()
    status, cancelled = run_streaming([sys.executable, "-c", script], on_line=lines.append,
                                      on_progress=percents.append, is_cancelled=lambda: bool(percents), grace=2)
    assert cancelled and time.monotonic() - start < 30
    # an uncaught KeyboardInterrupt ends Python by SIGINT
    assert status == (-signal.SIGKILL if ignores_sigint else -signal.SIGINT)
    assert percents == [25.0] and lines[0] == "1 of 4 steps (25%) done"
    time.sleep(0.2)
    assert not _running(int(child.read_text()))


def _running(pid):
    """Whether ``pid`` runs (a zombie awaiting its reaper does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


# ------------------------------------------------------------------ real runs

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("skt_demo")
    settings = tiny_settings(work / "tiny.yaml")
    result = skt("run", DEMO_SAMPLES, "--sites", DEMO_SITES, "--crs", "EPSG:32649", "--units", "Au=ppb,Hg=ppb",
                 "--settings", settings, "--cores", "2", cwd=work)
    return work / "skt_demo", result


@pytest.mark.workflow
def test_run_writes_the_config_then_the_maps_and_prints_them(demo_run):
    folder, result = demo_run
    config = yaml.safe_load((folder / "skt.yaml").read_text())
    assert config["evaluate"]["cv"]["methods"] == ["decision_tree_pixel", "skt"]   # --settings merged in
    maps = folder / "results" / "demo" / "maps"
    for name in ("skt_probability.tif", "skt_uncertainty.tif", "decision_tree_pixel_uncertainty.tif",
                 "reference/commodity.tif", "reference/sampling_density.tif", "reference/robust_anomaly.tif"):
        with rasterio.open(maps / name) as src:
            assert src.crs.to_epsg() == 32649
            values = src.read(1, masked=True)
            assert np.isfinite(values.compressed()).all() and values.count() > 0
        assert str(maps / name) in result.stdout
    assert (maps / "skt_probability.qml").exists() and (maps / "skt_uncertainty.qml").exists()
    assert (folder / "results" / "demo" / "tables" / "cv_summary.csv").exists()
    assert "skt open" in result.stdout
    # the settings the maps were made with, every default filled in
    effective = yaml.safe_load((folder / "results" / "demo" / "config" / "effective.yaml").read_text())
    assert effective["evaluate"]["cv"]["methods"] == ["decision_tree_pixel", "skt"]
    assert effective["tiles"]["split_row"] == "auto" and effective["train"]["amp"] is True


@pytest.mark.workflow
def test_status_says_the_maps_are_done_and_a_rerun_does_nothing(demo_run):
    folder, _ = demo_run
    status = skt("status", folder)
    assert "maps: complete" in status.stdout and "results/demo/maps/skt_probability.tif" in status.stdout
    assert re.search(r"everything: \d+ jobs to run", status.stdout)
    again = skt("run", DEMO_SAMPLES, "--sites", DEMO_SITES, "--out", folder, "--cores", "2", "--crs", "EPSG:4326")
    assert "using " in again.stdout and "Nothing to be done" in again.stdout + again.stderr
    assert "note: --crs shape a new skt.yaml only" in again.stderr


@pytest.mark.workflow
def test_open_writes_a_project_with_every_map_styled(demo_run):
    folder, _ = demo_run
    skt("open", folder)
    project = (folder / "demo.qgs").read_text()
    for source in ("./results/demo/maps/skt_probability.tif", "./results/demo/maps/reference/commodity.tif",
                   "./results/demo/prepare/sites.gpkg|layername=sites"):
        assert f"<datasource>{source}</datasource>" in project
    assert project.count('type="singlebandpseudocolor"') == project.count('<maplayer type="raster"') >= 6
    assert (folder / "results" / "demo" / "maps" / "reference" / "commodity.qml").exists()
    assert not temp_files(folder)


@pytest.mark.workflow
@pytest.mark.realdata
@pytest.mark.skipif(not SHARED, reason="SKT_SHARED_DATA is not set")
def test_kolari_runs_from_its_geopackages_with_only_sites_and_commodity(tmp_path):
    base = Path(SHARED) / "gtk_kolari"
    settings = tiny_settings(tmp_path / "tiny.yaml", cv_methods=("decision_tree_pixel",))
    result = skt("run", base / "till_geochemistry.gpkg", "--sites", base / "deposits.gpkg", "--commodity", "Fe,Cu",
                 "--settings", settings, "--cores", "2", cwd=tmp_path)
    folder = tmp_path / "skt_till_geochemistry"
    entry = yaml.safe_load((folder / "skt.yaml").read_text())["datasets"]["till_geochemistry"]
    assert entry["x_column"] is None and entry["crs"] == "EPSG:3067"
    assert entry["samples_layer"] == "iocg_clb_till_geochem_reg_511p"
    with rasterio.open(folder / "results" / "till_geochemistry" / "maps" / "skt_probability.tif") as src:
        assert src.crs.to_epsg() == 3067
        assert src.read(1, masked=True).count() > 0
    assert "maps of till_geochemistry:" in result.stdout



@pytest.mark.workflow
def test_the_noop_benchmark_times_a_finished_run_against_a_bare_snakefile(demo_run):
    folder, _ = demo_run
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_noop.py"), str(folder),
                             "--configfile", str(folder / "skt.yaml"), "--target", "maps", "--repeats", "1"],
                            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| no-op") or
            line.startswith("| --list-rules")]
    assert len(rows) == 2
    for row in rows:
        ratio = float(row.rstrip(" |").rsplit("|", 1)[1])
        assert ratio > 0
