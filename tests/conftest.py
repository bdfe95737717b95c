import os
from pathlib import Path

import pytest

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
