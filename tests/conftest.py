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
