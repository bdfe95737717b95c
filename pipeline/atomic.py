"""Atomic file output: write to a temporary sibling, then rename.

A run killed mid-write must never leave a file that looks complete. The
temporary name, ``.{stem}.{host}-{pid}.XXXX.part{suffix}``, records who writes
it, so that the next write of the same file can delete what a killed writer left
behind. A write that fails because the disk is full, the folder is not writable
or a file stands where a folder should be raises ``OutputError`` naming the
output and the reason instead of the writer's own (often cryptic) error.
"""

import contextlib
import errno
import json
import os
import re
import resource
import shutil
import socket
import tempfile
from pathlib import Path

# Below this many free bytes a failed write is put down to a full disk: GDAL,
# SQLite and torch report ENOSPC in words of their own, without an errno.
_FULL_DISK_BYTES = 1 << 20

_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT}


class OutputError(OSError):
    """An output file that cannot be written; the message names it and says why."""

    def __init__(self, message, *, path, code=None):
        super().__init__(message)
        self.filename = str(path)
        self.errno = code

    def __str__(self):
        return self.args[0]


def _host():
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    _make_folder(path)
    _remove_stale_temps(path)
    # keep the real suffix last: GDAL picks formats and checks names by it
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{_host()}-{os.getpid()}.",
                                   suffix=".part" + path.suffix, dir=path.parent)
    except OSError as exc:
        _raise_clear(path, None, exc)
    os.close(fd)
    os.unlink(tmp)  # writers such as GDAL want to create the file themselves
    tmp = Path(tmp)
    try:
        try:
            yield tmp
            os.replace(tmp, path)
        except Exception as exc:
            _raise_clear(path, tmp, exc)
    finally:
        if tmp.exists():
            tmp.unlink()


def _make_folder(path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _raise_clear(path, None, exc)


def _raise_clear(path, tmp, exc):
    clear = _explain(path, tmp, exc)
    if clear is None:
        raise exc
    raise clear from exc


def _remove_stale_temps(path):
    """Delete temporaries of ``path`` whose writer (on this host) is no longer running."""
    pattern = re.compile(rf"^\.{re.escape(path.stem)}\.{re.escape(_host())}-(\d+)\.[^/]*\.part"
                         rf"{re.escape(path.suffix)}$")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(path.parent / name)


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _explain(path, tmp, exc):
    """An OutputError saying why ``path`` could not be written, or None if the
    failure is not about the file system (then the original error stands)."""
    # only errors a writer gives for I/O: GDAL's are OSErrors, SQLite's (pyogrio) and
    # torch's RuntimeErrors; bad input (InputError is a ValueError) stays as it is
    if isinstance(exc, OutputError) or not isinstance(exc, (OSError, RuntimeError)):
        return None
    code = getattr(exc, "errno", None)
    folder = path.parent
    if code in (errno.ENOTDIR, errno.EEXIST) or (code is None and isinstance(exc, FileExistsError)):
        blocker = _file_in_the_way(folder)
        if blocker is not None:
            return OutputError(f"cannot write {path}: {blocker} is a file, but the output needs a folder "
                               "there; move or delete that file", path=path, code=errno.ENOTDIR)
    if code in _NOT_WRITABLE:
        return OutputError(f"cannot write {path}: the folder {_existing(folder)} is not writable "
                           f"({os.strerror(code)}); check its permissions and mount options", path=path,
                           code=code)
    free = _free_bytes(folder)
    if code in _NO_ROOM or (free is not None and free < _FULL_DISK_BYTES):
        shown = "unknown" if free is None else f"{free / 2**20:.1f} MiB"
        return OutputError(f"cannot write {path}: no space left on the disk that holds {_existing(folder)} "
                           f"({shown} free); free some space or move the results to a larger disk "
                           f"(writer's error: {exc})", path=path, code=errno.ENOSPC)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if code == errno.EFBIG or (limit != resource.RLIM_INFINITY and tmp is not None and tmp.exists()
                               and tmp.stat().st_size + 65536 >= limit):
        return OutputError(f"cannot write {path}: the file would exceed this process's file size limit "
                           f"({limit} bytes, see `ulimit -f`) (writer's error: {exc})", path=path,
                           code=errno.EFBIG)
    return None


def _file_in_the_way(folder):
    """The nearest ancestor of ``folder`` (itself included) that exists but is not a folder."""
    for candidate in [folder, *folder.parents]:
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def _existing(folder):
    for candidate in [folder, *folder.parents]:
        if candidate.is_dir():
            return candidate
    return folder


def _free_bytes(folder):
    try:
        return shutil.disk_usage(_existing(folder)).free
    except OSError:
        return None


def write_json(path, obj):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _json_default(value):
    # numpy scalars and arrays show up in QA counts and statistics
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")
