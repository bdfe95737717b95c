"""Progress bars on a terminal, nothing in logs.

Snakemake runs each job with the terminal's stderr: a person watching sees
each long stage move (IDW row blocks, tile rows, epochs, prediction strips).
When stderr is a file or a pipe (a log, a cluster job, the QGIS plugin
reading `skt run`), bars would only add carriage-return noise, so none is
drawn; the stages log their summaries either way.
"""

import sys


def on_terminal(stream=None):
    """Whether ``stream`` (default stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress(items, desc, *, total=None, unit="it", enabled=None, stream=None):
    """``items`` with a bar on a terminal (``enabled`` None: decide by on_terminal), else ``items`` itself."""
    if not (on_terminal(stream) if enabled is None else enabled):
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr if stream is None else stream)
