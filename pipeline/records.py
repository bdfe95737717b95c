"""Reading the JSON files the workflow writes (plans, metrics, run records, tiles and raster metadata): one
reader, so a missing or broken file stops with its path instead of a bare traceback."""

import json
from pathlib import Path

from .errors import InputError


def read_json(path):
    """The parsed content of a JSON file the workflow wrote."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("file does not exist", path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}", path=path) from None
