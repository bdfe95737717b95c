"""Logging for workflow scripts: messages go to the rule's log file and stderr."""

import contextlib
import logging
import sys


@contextlib.contextmanager
def logging_to(path, level=logging.INFO):
    """Send the ``pipeline`` loggers to ``path`` (and stderr) for the duration of a script.

    An exception is written to the log before it propagates, so that the log file
    explains a failed job on its own.
    """
    logger = logging.getLogger("pipeline")
    handlers = [logging.FileHandler(path, mode="w"), logging.StreamHandler(sys.stderr)]
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    logger.setLevel(level)
    try:
        yield logger
    except Exception as exc:
        logger.error("%s: %s", type(exc).__name__, exc)
        raise
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()
