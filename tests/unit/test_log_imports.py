"""structlog is imported without its pretty-traceback helpers (worker/log.py), and the
console logs print a plain traceback: the exception, never a frame's local values."""

from __future__ import annotations

import io
import subprocess
import sys

from worker.log import configure_logging, get_logger

PROBE = "import sys, worker.log; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
    "('pygments', 'better_exceptions') or m in ('rich.traceback', 'rich.pretty')))"  # fmt: skip


def test_importing_the_logging_loads_no_pretty_traceback_helper() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_console_traceback_is_plain_and_shows_no_local_value() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    local_value = "local-value-never-logged"
    try:
        raise ValueError("boom")
    except ValueError:
        get_logger("test").exception("it.failed")
    text = stream.getvalue()
    assert "Traceback (most recent call last):" in text
    assert "ValueError: boom" in text
    assert local_value not in text
