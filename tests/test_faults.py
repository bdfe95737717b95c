"""Faults: a run killed in the middle of a rule, an unwritable results folder, a full disk.

A killed run must leave nothing that Snakemake or the next stage takes for a
finished output, and the rerun must give what an uninterrupted run gives. A
write that fails for lack of room or permission must say which file and why.
The kills signal Snakemake's whole process group, as a terminal, `timeout` or a
cluster scheduler does: SIGTERM lets Snakemake clean up after its killed job,
SIGKILL (power cut, out-of-memory killer) leaves everything where it was.
"""

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import torch

from pipeline.atomic import OutputError, atomic_path, write_json
from pipeline.rasters import write_geotiff
from workflow_helpers import (copy_workdir, kill_when, planned_rules, snakemake, start_snakemake, temp_files,
                              tiny_config, write_config)

DEMO = Path("results") / "demo"


# --- helpers -----------------------------------------------------------------------------------------

def _selected(work):
    table = pd.read_csv(work / DEMO / "screening" / "elements.csv")
    return list(table.loc[table["selected"], "element"])


def _fork(screened, tmp_path, name, config):
    work = copy_workdir(screened, tmp_path / name)
    return work, write_config(config, work / f"{name}.yaml")


def _big_grid_config():
    """A grid large enough that interpolation lasts long enough to be killed in the middle."""
    config = tiny_config()
    config["interpolate"].update(width=640, height=640, block_rows=16)
    config["tiles"].update(window=64, stride=64)
    return config


def _training_config():
    config = tiny_config()
    config["source"]["epochs"] = 2
    config["train"]["epochs"] = 2
    return config


def _log(work, rule):
    return (work / DEMO / "logs" / f"{rule}.log").read_text()


def _assert_same_rasters(a, b, names):
    for name in names:
        with rasterio.open(a / f"{name}.tif") as x, rasterio.open(b / f"{name}.tif") as y:
            assert x.profile == y.profile and x.descriptions == y.descriptions
            np.testing.assert_array_equal(x.read(), y.read())
            np.testing.assert_array_equal(x.read(1, out_shape=(x.height // 4, x.width // 4)),
                                          y.read(1, out_shape=(y.height // 4, y.width // 4)))


def _assert_same_tiles_products(reference, work):
    names = _selected(reference)
    _assert_same_rasters(reference / DEMO / "rasters", work / DEMO / "rasters", names)
    with rasterio.open(reference / DEMO / "stack" / "zscore.tif") as x, \
            rasterio.open(work / DEMO / "stack" / "zscore.tif") as y:
        assert x.profile == y.profile and x.descriptions == y.descriptions and x.tags() == y.tags()
        np.testing.assert_array_equal(x.read(), y.read())
    np.testing.assert_array_equal(np.load(reference / DEMO / "tiles" / "windows.npy"),
                                  np.load(work / DEMO / "tiles" / "windows.npy"))
    for name in ("index.csv", "tiles.json"):
        assert (reference / DEMO / "tiles" / name).read_text() == (work / DEMO / "tiles" / name).read_text()


def _assert_same_model(a, b):
    x, y = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert x.keys() == y.keys()
    assert x["state_dict"].keys() == y["state_dict"].keys()
    for key, tensor in x["state_dict"].items():
        assert torch.equal(tensor, y["state_dict"][key]), key


def _incomplete_is_not_taken_as_done(work, configfile, target, rule):
    """A plain dry run either plans ``rule`` again or refuses because of incomplete
    files; one with --rerun-incomplete plans it."""
    plain = snakemake(work, configfile, "--dry-run", target, check=False)
    text = plain.stdout + plain.stderr
    if plain.returncode == 0:
        assert rule in planned_rules(work, configfile, target)
    else:
        assert "incomplete" in text.lower(), text[-3000:]
    assert rule in planned_rules(work, configfile, "--rerun-incomplete", target)


@contextlib.contextmanager
def _read_only(folder):
    """Make ``folder`` unwritable even for root (immutable flag); chmod for other users."""
    folder.mkdir(parents=True, exist_ok=True)
    undo = None
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = lambda: folder.chmod(0o755)  # noqa: E731
    elif shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)],
                                                   capture_output=True).returncode == 0:
        undo = lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)  # noqa: E731
    try:
        probe = folder / ".probe"
        try:
            probe.write_text("")
            probe.unlink()
            pytest.skip("cannot make a folder read-only here (root without chattr support)")
        except OSError:
            pass
        yield folder
    finally:
        if undo is not None:
            undo()


@contextlib.contextmanager
def _small_disk(folder, size="256k"):
    """Mount a small tmpfs on ``folder`` (root only); yields False where that is impossible."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        yield False
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=True)


def _file_size_limit(limit):
    """preexec_fn: the process and its children may not write files larger than ``limit`` bytes."""
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


# --- fixtures ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    """The tiny demo run through prepare and screen; every test forks a copy."""
    work = tmp_path_factory.mktemp("screened")
    snakemake(work, write_config(tiny_config(), work / "config.yaml"), str(DEMO / "screening" / "elements.csv"))
    return work


@pytest.fixture(scope="module")
def tiles_reference(screened, tmp_path_factory):
    work, configfile = _fork(screened, tmp_path_factory.mktemp("ref"), "tiles_ref", _big_grid_config())
    snakemake(work, configfile, str(DEMO / "tiles" / "index.gpkg"))
    return work


# --- kills -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_run_killed_during_interpolation_reruns_to_the_same_results(screened, tiles_reference, tmp_path, sig):
    work, configfile = _fork(screened, tmp_path, "killed", _big_grid_config())
    target = str(DEMO / "tiles" / "index.gpkg")
    rasters = work / DEMO / "rasters"
    n_elements = len(_selected(work))

    def writing_every_raster():
        # every element's GeoTIFF is open as a temporary: blocks are being written
        return rasters.is_dir() and len([p for p in rasters.iterdir() if ".part" in p.name]) == n_elements

    status = kill_when(start_snakemake(work, configfile, target), writing_every_raster, sig)
    assert status != 0
    # the kill landed in interpolate: nothing after it ran
    assert not (work / DEMO / "benchmarks" / "interpolate.tsv").exists()
    assert not (work / DEMO / "stack").exists()
    # no final-named raster is a half-written one: each that exists opens and reads whole
    for tif in [p for p in rasters.glob("*.tif") if not p.name.startswith(".")] if rasters.exists() else []:
        with rasterio.open(tif) as src:
            src.read()
    if sig == signal.SIGTERM:
        # Snakemake saw its job die and removed the directory output
        assert not rasters.exists()
    _incomplete_is_not_taken_as_done(work, configfile, target, "interpolate")
    if sig == signal.SIGKILL:
        # Snakemake had no chance to release its lock (it says to run --unlock)
        snakemake(work, configfile, "--unlock", target)

    snakemake(work, configfile, "--rerun-incomplete", target)
    assert temp_files(work / "results") == []
    _assert_same_tiles_products(tiles_reference, work)


def test_run_killed_during_training_resumes_from_checkpoints(screened, tmp_path):
    config = _training_config()
    target = str(DEMO / "models" / "skt.pt")
    reference, ref_config = _fork(screened, tmp_path, "train_ref", config)
    snakemake(reference, ref_config, target)

    work, configfile = _fork(screened, tmp_path, "killed", config)
    models = work / DEMO / "models"
    checkpoints = models / "checkpoints"

    # killed in train_source after its first epoch
    status = kill_when(start_snakemake(work, configfile, target),
                       lambda: (checkpoints / "source.ckpt").exists(), signal.SIGTERM)
    assert status != 0
    assert not (models / "source.pt").exists(), "the kill came after train_source had finished"
    assert not (models / "source_metrics.json").exists()
    _incomplete_is_not_taken_as_done(work, configfile, target, "train_source")

    # rerun (plain: Snakemake cleaned up after SIGTERM), killed in train_skt after its first epoch
    status = kill_when(start_snakemake(work, configfile, target),
                       lambda: (checkpoints / "skt.ckpt").exists(), signal.SIGTERM)
    assert status != 0
    assert "resuming after epoch 1" in _log(work, "train_source")
    assert (models / "source.pt").exists()
    assert not (models / "skt.pt").exists(), "the kill came after train_skt had finished"

    snakemake(work, configfile, target)
    assert "resuming after epoch 1" in _log(work, "train_skt")
    assert temp_files(work / "results") == []

    ref_models = reference / DEMO / "models"
    for name in ("source.pt", "skt.pt"):
        _assert_same_model(ref_models / name, models / name)
    for name in ("source", "skt"):
        pd.testing.assert_frame_equal(pd.read_csv(ref_models / f"{name}_log.csv"),
                                      pd.read_csv(models / f"{name}_log.csv"))
        ref = json.loads((ref_models / f"{name}_metrics.json").read_text())
        got = json.loads((models / f"{name}_metrics.json").read_text())
        assert got["primary"] == ref["primary"] and got["epochs_done"] == ref["epochs_done"] == 2


# --- unwritable folder, full disk --------------------------------------------------------------------

def test_read_only_results_folder_gives_a_clear_error(screened, tmp_path):
    work, configfile = _fork(screened, tmp_path, "readonly", tiny_config())
    out = DEMO / "stack"    # as Snakemake names it, relative to the working directory
    with _read_only(work / out):
        result = snakemake(work, configfile, str(out / "zscore.tif"), check=False)
    assert result.returncode != 0
    message = f"cannot write {out / 'zscore.tif'}: the folder {out} is not writable"
    assert message in result.stdout + result.stderr
    assert message in _log(work, "stack")


def test_full_disk_gives_a_clear_error(screened, tmp_path):
    work, configfile = _fork(screened, tmp_path, "full", tiny_config())
    tiles = work / DEMO / "tiles"
    snakemake(work, configfile, str(DEMO / "stack" / "zscore.tif"))
    with _small_disk(tiles) as mounted:
        # without a mount, a file size limit stands in for the full disk
        result = snakemake(work, configfile, str(DEMO / "tiles" / "index.gpkg"), check=False) if mounted else \
            _limited_run(work, configfile, str(DEMO / "tiles" / "index.gpkg"), limit=256 * 1024)
        assert result.returncode != 0
        text = result.stdout + result.stderr
        reason = "no space left on the disk" if mounted else "file size limit"
        message = f"cannot write {DEMO / 'tiles' / 'windows.npy'}: "
        assert message in text and reason in text, text[-4000:]
        assert message in _log(work, "tiles")
        assert not (tiles / "windows.npy").exists() and temp_files(tiles) == []


def _limited_run(work, configfile, target, limit):
    proc = start_snakemake(work, configfile, target, preexec_fn=_file_size_limit(limit))
    proc.wait(timeout=600)
    text = (work / "snakemake.out").read_text()
    return subprocess.CompletedProcess(proc.args, proc.returncode, text, "")


# --- the atomic writer on its own --------------------------------------------------------------------

def test_file_in_the_way_of_a_folder_is_named(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    target = tmp_path / "results" / "demo" / "qa.json"
    with pytest.raises(OutputError) as err:
        write_json(target, {"a": 1})
    assert str(err.value) == (f"cannot write {target}: {tmp_path / 'results'} is a file, but the output "
                              "needs a folder there; move or delete that file")


def test_read_only_folder_is_named(tmp_path):
    folder = tmp_path / "out"
    with _read_only(folder):
        with pytest.raises(OutputError, match="is not writable") as err:
            write_json(folder / "a.json", {"a": 1})
    assert str(folder / "a.json") in str(err.value)


def test_full_disk_while_gdal_writes_is_named(tmp_path):
    from affine import Affine

    from pipeline.grid import GridSpec

    grid = GridSpec("EPSG:32649", Affine(10.0, 0.0, 0.0, 0.0, -10.0, 5120.0), 512, 512)
    noise = np.random.default_rng(0).normal(size=(2, 512, 512)).astype(np.float32)  # does not compress
    with _small_disk(tmp_path / "disk", "200k") as mounted:
        if not mounted:
            pytest.skip("no tmpfs mount here (needs root); the workflow test covers the file size limit")
        target = tmp_path / "disk" / "noise.tif"
        with pytest.raises(OutputError, match="no space left on the disk") as err:
            write_geotiff(target, noise, grid, ["a", "b"])
        assert str(target) in str(err.value)
        assert list((tmp_path / "disk").iterdir()) == []


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "windows.npy"
    child = subprocess.Popen(["sleep", "0"])
    child.wait()  # a process id that no longer runs
    with atomic_path(target) as tmp:
        np.save(tmp, np.ones(3))
    host = tmp.name.split(".")[2].rsplit("-", 1)[0]
    dead = tmp_path / f".windows.{host}-{child.pid}.abc123.part.npy"
    alive = tmp_path / f".windows.{host}-{os.getppid()}.def456.part.npy"
    other = tmp_path / f".index.{host}-{child.pid}.abc123.part.csv"
    for path in (dead, alive, other):
        path.write_bytes(b"half")
    with atomic_path(target) as tmp:
        np.save(tmp, np.zeros(3))
    assert not dead.exists()                     # its writer is gone
    assert alive.exists() and other.exists()     # a running writer's, another file's
    np.testing.assert_array_equal(np.load(target), np.zeros(3))


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    write_json(target, {"v": 1})
    with pytest.raises(ValueError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text('{"v": 2')
            raise ValueError("boom")
    assert json.loads(target.read_text()) == {"v": 1}
    assert temp_files(tmp_path) == []
