"""Transfer between regions: a source network trained on one survey's tiles, used by
another survey's SKT; elements are matched by name; config/transfer_katanning.yaml."""

import copy
import json
import os
import re

import numpy as np
import pytest
import rasterio
import torch
import yaml

from pipeline.config import dataset_config, validate_config
from pipeline.errors import InputError
from pipeline.nets.synthetic import write_synthetic_survey
from pipeline.nets.tileset import load_tiles
from pipeline.prepare import prepare_samples
from pipeline.skt import train_skt, train_source
from pipeline.source_pool import pool_source_windows
from workflow_helpers import REPO, snakemake, tiny_config, write_config

TRANSFER_CONFIG = REPO / "config" / "transfer_katanning.yaml"
TRAIN = {"epochs": 1, "batch_size": 16, "lr": 0.05, "momentum": 0.01, "weight_decay": 1e-4, "lr_step": 2,
         "lr_gamma": 0.5, "crop": 20, "balance": "noise", "noise_variance": 0.01, "amp": True,
         "channels_last": True}
SKT = {"dilations": [1, 2], "soft_mask": True, "mask_init": "ones", "dilation": True, "transfer": True,
       "transfer_mode": "product", "distillation": True, "beta": 0.7, "temperature": 1.0}


def planned_jobs(text):
    """{(rule, dataset): input files} of the jobs a dry run prints."""
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule )", text):
        head = re.match(r"(?:local)?rule (\w+):", block)
        wildcards = re.search(r"wildcards: dataset=(\S+)", block)
        if head and wildcards:
            inputs = re.search(r"input: (.*)", block)
            jobs[(head.group(1), wildcards.group(1))] = inputs.group(1).split(", ") if inputs else []
    return jobs


def _merged_config():
    """What Snakemake sees: config.yaml updated by the transfer file, then validated."""
    def update(base, extra):
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                update(base[key], value)
            else:
                base[key] = copy.deepcopy(value)
        return base

    config = update(yaml.safe_load((REPO / "config.yaml").read_text()),
                    yaml.safe_load(TRANSFER_CONFIG.read_text()))
    return validate_config(config, source=str(TRANSFER_CONFIG))


def test_target_lacking_a_source_element_is_a_clear_error(tmp_path):
    torch.set_num_threads(1)
    source = write_synthetic_survey(tmp_path / "source", height=72, width=72, channels=3, window=24, stride=12,
                                    split_row=48, n_sites=6, seed=1, elements=["Au", "B", "Cu"])
    target = write_synthetic_survey(tmp_path / "target", height=72, width=72, channels=3, window=24, stride=12,
                                    split_row=48, n_sites=6, seed=2, elements=["Cu", "Au", "Zn"])
    train_source(source["tiles"], source={"epochs": 1}, model={"width": 4}, train=TRAIN, seed=3, device="cpu",
                 threads=1, model_path=tmp_path / "source.pt", progress=False)
    with pytest.raises(InputError) as err:
        train_skt(target["tiles"], source_path=tmp_path / "source.pt", skt=SKT, model={"width": 4}, train=TRAIN,
                  seed=3, device="cpu", threads=1, model_path=tmp_path / "skt.pt", progress=False)
    message = str(err.value)
    assert str(target["tiles"]) in message
    assert "needs element(s) ['B']" in message and "the target data lack" in message
    assert not (tmp_path / "skt.pt").exists()


def test_transfer_config_validates_with_the_same_elements_for_both():
    config = _merged_config()
    assert set(config["datasets"]) == {"demo", "katanning"}
    demo, katanning = dataset_config(config, "demo"), dataset_config(config, "katanning")
    assert katanning["source"]["task"] == "dataset" and katanning["source"]["dataset"] == "demo"
    assert demo["source"]["task"] == "self"
    assert demo["screen"]["elements"] == katanning["screen"]["elements"]
    # every element the source sees is one the target's survey column list holds
    columns = [c.split("_")[0] for c in katanning["dataset"]["elements"]]
    assert set(katanning["screen"]["elements"]) <= set(columns)
    assert katanning["tiles"]["window"] >= katanning["train"]["crop"]


@pytest.mark.workflow
def test_transfer_config_dry_run_trains_the_source_on_the_demo_tiles(tmp_path, monkeypatch):
    # the demo paths are relative to the repository root, the Katanning ones go through
    # SKT_SHARED_DATA: a working directory that mirrors both, with empty stand-ins for
    # the Katanning files (a dry run reads no data)
    (tmp_path / "data").symlink_to(REPO / "data")
    shared = tmp_path / "shared"
    (shared / "gswa_katanning").mkdir(parents=True)
    for name in ("samples.csv", "deposits.csv"):
        (shared / "gswa_katanning" / name).write_text("X,Y\n")
    monkeypatch.setenv("SKT_SHARED_DATA", str(shared))
    result = snakemake(tmp_path, TRANSFER_CONFIG, "--dry-run", "results/katanning/models/skt_metrics.json")
    jobs = planned_jobs(result.stdout + result.stderr)
    assert set(jobs) == {(rule, ds) for rule in ("prepare", "screen", "interpolate", "stack", "tiles")
                         for ds in ("demo", "katanning")} | {("train_source", "katanning"),
                                                            ("train_skt", "katanning")}
    assert jobs[("train_source", "katanning")] == [f"results/demo/tiles/{f}"
                                                   for f in ("windows.npy", "index.csv", "tiles.json")]
    assert "results/katanning/models/source.pt" in jobs[("train_skt", "katanning")]
    assert "results/katanning/tiles/windows.npy" in jobs[("train_skt", "katanning")]


@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("SKT_SHARED_DATA"), reason="SKT_SHARED_DATA is not set")
def test_listed_elements_are_in_both_prepared_surveys():
    config = _merged_config()
    listed = config["screen"]["elements"]
    for name in ("demo", "katanning"):
        view = dataset_config(config, name)
        ds, prep = view["dataset"], view["prepare"]
        path = REPO / ds["samples"] if name == "demo" else os.path.expandvars(ds["samples"])
        samples, _ = prepare_samples(path, x_column=ds["x_column"], y_column=ds["y_column"], crs=ds["crs"],
                                     working_crs=ds["working_crs"], elements=ds["elements"], units=ds["units"],
                                     missing_codes=prep["missing_codes"], min_valid=prep["min_valid"])
        assert set(listed) <= set(samples.columns), name


# --- source.task: datasets (pipeline.source_pool) ---------------------------------------------------

SITE_CELLS = [(10, 10), (30, 50), (80, 20)]   # (row, col): two in the training part, one in the test part


def _pool_survey(tmp_path, name, elements, seed):
    survey = write_synthetic_survey(tmp_path / name, height=96, width=72, channels=len(elements), window=24,
                                    stride=12, n_sites=4, seed=seed, elements=elements)
    t = survey["grid"].transform
    xy = np.array([(t.c + (c + 0.5) * t.a, t.f + (r + 0.5) * t.e) for r, c in SITE_CELLS])
    return survey["stack"], xy


def test_source_pool_matches_channels_by_name_and_labels_windows_by_each_surveys_sites(tmp_path, caplog):
    torch.set_num_threads(1)
    a_stack, a_xy = _pool_survey(tmp_path, "a", ["Au", "As"], 1)
    b_stack, b_xy = _pool_survey(tmp_path, "b", ["Cu", "Au"], 2)
    meta = pool_source_windows([("a", a_stack, a_xy), ("b", b_stack, b_xy)], ["Au", "As", "Cu", "Zn"],
                               tmp_path / "pool", window=24, stride=12, validity_band=True)
    pool = load_tiles(tmp_path / "pool")
    assert pool.elements == ["Au", "As", "Cu", "Zn", "valid"]
    assert meta["source_datasets"]["a"]["missing_elements"] == ["Cu", "Zn"]
    assert meta["source_datasets"]["b"]["missing_elements"] == ["As", "Zn"]
    assert not (tmp_path / "pool" / "parts").exists()
    index = pool.index
    assert set(index["survey"]) == {"a", "b"} and index["tile_id"].tolist() == list(range(len(index)))
    for survey, stack, present in (("a", a_stack, {"Au": 1, "As": 2}), ("b", b_stack, {"Cu": 1, "Au": 2})):
        rows = index[index["survey"] == survey]
        with rasterio.open(stack) as src:
            bands = src.read(masked=True)
        for _, window in rows.iterrows():
            r, c = int(window["row"]), int(window["col"])
            x = pool.read([int(window["tile_id"])])[0]
            for channel, name in enumerate(pool.elements[:-1]):
                if name not in present:
                    assert (x[channel] == 0).all()           # a band the survey lacks carries nothing
                    continue
                cut = bands[present[name] - 1, r:r + 24, c:c + 24]
                valid = ~np.ma.getmaskarray(cut)
                np.testing.assert_array_equal(x[channel][valid], cut.data[valid].astype(np.float32))
            inside = any(r <= sr < r + 24 and c <= sc < c + 24 for sr, sc in SITE_CELLS)
            assert window["label"] == int(inside)
        assert set(rows["split"]) <= {"train", "test", "unlabelled"}
        assert (rows.loc[rows["row"] + 24 <= 72, "split"] != "test").all()      # 72 = 96 * (1 - 0.25)
        assert (rows.loc[rows["row"] >= 72, "split"] == "test").all()
    # the source sees the target's elements only, taken from the pool by name
    summary = train_source(tmp_path / "pool", source={"epochs": 1}, model={"width": 4}, train=TRAIN, seed=3,
                           device="cpu", threads=1, model_path=tmp_path / "source.pt", progress=False,
                           elements=["Cu", "Au", "valid"])      # as the target's tiles.json lists them
    assert summary["elements"] == ["Cu", "Au", "valid"]
    assert torch.load(tmp_path / "source.pt", weights_only=False)["elements"] == ["Cu", "Au", "valid"]
    assert "no source dataset" not in caplog.text
    # an element no pooled survey holds is said, not silently learnt as zeros
    train_source(tmp_path / "pool", source={"epochs": 1}, model={"width": 4}, train=TRAIN, seed=3, device="cpu",
                 threads=1, model_path=tmp_path / "source_zn.pt", progress=False, elements=["Zn", "Au"])
    assert "no source dataset (a, b) holds Zn" in caplog.text


def test_source_pool_refuses_a_survey_without_the_targets_elements(tmp_path):
    a_stack, a_xy = _pool_survey(tmp_path, "a", ["Au", "As"], 1)
    with pytest.raises(InputError, match="'a' has none of the target's elements"):
        pool_source_windows([("a", a_stack, a_xy)], ["Cu", "Zn"], tmp_path / "pool", window=24, stride=12)


def test_source_datasets_must_name_other_datasets_of_the_config():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["source"]["task"] = "datasets"
    with pytest.raises(InputError, match="source.datasets is empty"):
        validate_config(copy.deepcopy(config))
    config["source"]["datasets"] = ["nowhere"]
    with pytest.raises(InputError, match="nowhere"):
        validate_config(copy.deepcopy(config))
    config["source"]["datasets"] = ["demo"]
    with pytest.raises(InputError, match="names the dataset itself"):
        validate_config(copy.deepcopy(config))


@pytest.mark.workflow
def test_pooled_source_trains_on_the_other_surveys_windows(tmp_path):
    config = tiny_config()
    config["datasets"]["other"] = copy.deepcopy(config["datasets"]["demo"])
    config["datasets"]["demo"]["settings"] = {"source": {"task": "datasets", "datasets": ["other"]}}
    configfile = write_config(config, tmp_path / "config.yaml")
    result = snakemake(tmp_path, configfile, "--dry-run", "results/demo/models/skt.pt")
    jobs = planned_jobs(result.stdout + result.stderr)
    pool = [f"results/demo/source_pool/{f}" for f in ("windows.npy", "index.csv", "tiles.json")]
    assert set(jobs[("source_pool", "demo")]) == {"results/other/cv/stack.tif", "results/other/prepare/sites.gpkg",
                                                  "results/demo/cv/stack.json", "results/demo/tiles/tiles.json"}
    assert jobs[("train_source", "demo")] == pool + ["results/demo/tiles/tiles.json"]
    assert ("cv_stack", "other") in jobs and ("tiles", "other") not in jobs
    snakemake(tmp_path, configfile, "results/demo/models/skt.pt")
    results = tmp_path / "results"
    meta = json.loads((results / "demo" / "source_pool" / "tiles.json").read_text())
    assert list(meta["source_datasets"]) == ["other"] and meta["counts"]["train"]["with_mines"] > 0
    # the pool holds every band of the demo's stack; the source sees the elements the demo's tiles hold
    assert meta["elements"][:-1] == json.loads((results / "demo" / "cv" / "stack.json").read_text())["elements"]
    tiles = json.loads((results / "demo" / "tiles" / "tiles.json").read_text())
    assert torch.load(results / "demo" / "models" / "source.pt", weights_only=False)["elements"] == tiles["elements"]
    assert (results / "demo" / "models" / "skt.pt").exists()
