"""Transfer between regions: a source network trained on one survey's tiles, used by
another survey's SKT; elements are matched by name; config/transfer_katanning.yaml."""

import copy
import os
import re

import pytest
import torch
import yaml

from pipeline.config import dataset_config, validate_config
from pipeline.errors import InputError
from pipeline.prepare import prepare_samples
from pipeline.skt import train_skt, train_source
from pipeline.skt.synthetic import write_synthetic_survey
from workflow_helpers import REPO, snakemake

TRANSFER_CONFIG = REPO / "config" / "transfer_katanning.yaml"
TRAIN = {"epochs": 1, "batch_size": 16, "lr": 0.05, "momentum": 0.01, "weight_decay": 1e-4, "lr_step": 2,
         "lr_gamma": 0.5, "crop": 20, "balance": "noise", "noise_variance": 0.01, "amp": True,
         "channels_last": True}
SKT = {"dilations": [1, 2], "soft_mask": True, "mask_init": "ones", "dilation": True, "transfer": True,
       "transfer_mode": "product", "distillation": True, "beta": 0.7, "temperature": 1.0}


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
    text = result.stdout + result.stderr
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule )", text):
        head = re.match(r"(?:local)?rule (\w+):", block)
        wildcards = re.search(r"wildcards: dataset=(\S+)", block)
        if head and wildcards:
            inputs = re.search(r"input: (.*)", block)
            jobs[(head.group(1), wildcards.group(1))] = inputs.group(1).split(", ") if inputs else []
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
