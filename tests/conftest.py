import os
from pathlib import Path

import pytest

from workflow_helpers import snakemake, tiny_config, write_config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo():
    return REPO


@pytest.fixture
def shared_data():
    path = os.environ.get("SKT_SHARED_DATA")
    if not path:
        pytest.skip("SKT_SHARED_DATA is not set")
    return Path(path)


@pytest.fixture
def one_torch_thread():
    """One thread is fastest for tiny networks and immune to busy neighbours; the
    previous setting is restored for the tests that follow."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The whole tiny workflow, run once for the session: (work folder, config, config file). Tests read its
    outputs and dry-run other settings against it; none may change it. Its cross-validation refits a per-pixel
    model, a CNN and SKT in every fold, so the deep fold models are exercised end to end."""
    work = tmp_path_factory.mktemp("workflow")
    config = tiny_config()
    config["evaluate"]["cv"]["methods"] = ["decision_tree_pixel", "mobilenet_v2", "skt"]
    configfile = write_config(config, work / "config.yaml")
    snakemake(work, configfile)
    return work, config, configfile
