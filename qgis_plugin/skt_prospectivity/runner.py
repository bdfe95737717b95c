"""Runs `skt` as a subprocess for the QGIS algorithms, without importing QGIS.

QGIS's Python stays clean: the workflow runs in the project's own
environment (the `skt` executable of its .venv). Output is read line by line
on a thread, so the algorithm can poll for cancel between lines; a cancel
sends SIGINT to skt, which passes it on to Snakemake, which stops its jobs
(the workflow writes each file under a temporary name, so none is left
half-written; the next run redoes the unfinished jobs). Whatever of the run's
session is left after a grace period is killed.
"""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

#: Snakemake's progress line, e.g. "12 of 27 steps (44%) done"
PROGRESS = re.compile(r"(\d+) of (\d+) steps \((\d+(?:\.\d+)?)%\) done")
#: set by `make qgis-plugin`: the skt executable of the environment the plugin was built from
PATH_FILE = Path(__file__).resolve().parent / "skt_path.txt"
#: environment of QGIS's own Python that must not reach the project's
FOREIGN_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")


class SktNotFound(RuntimeError):
    pass


def find_skt(given=None, env=None):
    """The skt executable: ``given``, $SKT_EXECUTABLE, the path `make qgis-plugin` recorded, or skt on PATH."""
    env = os.environ if env is None else env
    candidates = [given, env.get("SKT_EXECUTABLE")]
    if PATH_FILE.exists():
        candidates.append(PATH_FILE.read_text().strip())
    candidates.append(shutil.which("skt"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise SktNotFound("the skt command was not found: install the workflow (make install in its folder) and give "
                      "the path to its .venv/bin/skt, set SKT_EXECUTABLE, or build the plugin with make qgis-plugin")


def clean_environment(env=None):
    env = dict(os.environ if env is None else env)
    for name in FOREIGN_VARIABLES:
        env.pop(name, None)
    return env


def progress_of(line):
    """Percent done from a Snakemake progress line, else None."""
    match = PROGRESS.search(line)
    return float(match.group(3)) if match else None


def run_streaming(args, *, on_line, on_progress=None, is_cancelled=lambda: False, env=None, poll=0.2,
                  grace=120.0):
    """Run ``args``; each output line goes to ``on_line``, each new highest progress percentage to
    ``on_progress``. Returns (exit status, cancelled). A cancel sends SIGINT to the process, then after
    ``grace`` seconds SIGKILL to every process of its session (it is started as a session of its own)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                            env=clean_environment(env), start_new_session=True)
    lines = queue.Queue()

    def read():
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    cancelled = False
    shown = 0.0
    while True:
        if not cancelled and is_cancelled():
            cancelled = True
            on_line("cancelled: stopping the workflow (Snakemake removes what it had not finished)")
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
            kill_session(proc.pid)
        try:
            line = lines.get(timeout=poll)
        except queue.Empty:
            continue
        if line is None:
            break
        on_line(line)
        percent = progress_of(line)
        # a checkpoint adds jobs mid-run (the folds, once the sites are clustered): the share done can drop,
        # the bar never goes back
        if percent is not None and percent > shown and on_progress is not None:
            shown = percent
            on_progress(percent)
    status = proc.wait()
    reader.join(timeout=5)
    return status, cancelled


def session_members(session):
    """Process ids of the live processes of ``session`` (from /proc; Linux)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def kill_session(session):
    """SIGKILL to every process left of ``session``: nothing of a cancelled run keeps running."""
    for pid in session_members(session):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def result_layers(skt, folder, env=None):
    """The layers `skt open DIR --json` lists (it also writes DIR/<dataset>.qgs): dicts with group, name,
    path, kind (raster or vector), layer and style."""
    result = subprocess.run([skt, "open", str(folder), "--json"], capture_output=True, text=True,
                            env=clean_environment(env))
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"skt open failed (exit {result.returncode})")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
