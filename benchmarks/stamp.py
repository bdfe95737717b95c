"""What every benchmark record carries so a generated page can say where its numbers come from: the commit
(and whether uncommitted changes were in the tree), the UTC date and time, and the machine."""

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _git(where, *args):
    result = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def stamp(measured=REPO):
    """``measured``: the checkout whose code the benchmark ran (a clone, for a finished run elsewhere)."""
    dirty = bool(_git(measured, "status", "--porcelain", "--untracked-files=no"))
    return {"commit": _git(measured, "rev-parse", "--short", "HEAD") or "unknown", "uncommitted_changes": dirty,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.node()} ({os.cpu_count()} CPUs, {platform.machine()}, "
                       f"Python {platform.python_version()})"}
