"""Paths from the configuration."""

import os
import re

from .errors import InputError


def expand_path(value, key="path"):
    """Expand ``$VAR``/``${VAR}`` and ``~``; an unset variable is an error, not an empty string."""
    for name in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", str(value)):
        if name not in os.environ:
            raise InputError(f"{key}: {value!r} uses the environment variable {name}, which is not set")
    return os.path.expanduser(os.path.expandvars(str(value)))
