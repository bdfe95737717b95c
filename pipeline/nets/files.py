"""PyTorch files of every network (models, checkpoints): written atomically and
read on the CPU with ``weights_only``; a model file is checked for the ``kind``
tag its writer set, so a wrong or broken file is a clear input error."""

from pathlib import Path

import torch

from ..atomic import atomic_path
from ..errors import InputError


def save_torch(path, obj):
    """torch.save through a temporary file, renamed into place."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path, kind=None):
    path = Path(path)
    if not path.exists():
        raise InputError("model file does not exist", path=path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise InputError(f"not a readable PyTorch file: {exc}", path=path) from None
    if kind is not None and (not isinstance(obj, dict) or obj.get("kind") != kind):
        found = obj.get("kind") if isinstance(obj, dict) else type(obj).__name__
        raise InputError(f"expected a {kind!r} file written by this workflow, found {found!r}", path=path)
    return obj
