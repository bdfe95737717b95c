"""Running real QGIS (Debian's python3-qgis, under the system Python) from the tests, headless."""

import os
import subprocess
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"


def clean_env(home=None):
    """The system Python must not see the .venv; QGIS writes its profile under ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    if home is not None:
        for key, sub in (("HOME", ""), ("XDG_DATA_HOME", "share"), ("XDG_CONFIG_HOME", "config"),
                         ("XDG_CACHE_HOME", "cache"), ("XDG_RUNTIME_DIR", "runtime")):
            path = Path(home) / sub
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            env[key] = str(path)
    return env


def qgis_importable():
    if not Path(SYSTEM_PYTHON).exists():
        return False
    result = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, env=clean_env())
    return result.returncode == 0


def skip_reason():
    return "QGIS (python3-qgis for /usr/bin/python3) is not installed; see .ci/setup_qgis.sh"
