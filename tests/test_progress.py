"""Progress bars on a terminal only: a log or a pipe gets none of tqdm's carriage returns."""

import io
import os
import pty

from pipeline.progress import on_terminal, progress


def test_no_bar_off_a_terminal():
    stream = io.StringIO()
    items = [1, 2, 3]
    assert not on_terminal(stream)
    assert progress(items, "IDW", stream=stream) is items
    assert stream.getvalue() == ""


def test_a_bar_on_a_terminal():
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as stream:
            assert on_terminal(stream)
            assert list(progress(range(3), "tiles", unit="row", stream=stream)) == [0, 1, 2]
            stream.flush()
        text = os.read(leader, 4096).decode()
        assert "tiles" in text and "row" in text
    finally:
        os.close(leader)
        os.close(follower)


def test_a_closed_stream_is_no_terminal():
    stream = io.StringIO()
    stream.close()
    assert not on_terminal(stream)
