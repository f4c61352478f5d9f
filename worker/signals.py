"""How the daemon's process ends: signals ask for an orderly stop, a second one forces it,
and the end itself does not wait for worker threads."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

from worker.log import get_logger

log = get_logger(__name__)


def install_signal_handlers(
    stop: threading.Event, *, exit_now: Callable[[int], None] = os._exit
) -> None:
    """First SIGTERM/SIGINT: set `stop` (orderly shutdown). Second: exit at once."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("daemon.forced_exit", signal=signal.Signals(signum).name)
            exit_now(128 + signum)
        log.info("daemon.signal", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def exit_process(code: int) -> NoReturn:
    """Flush the logs and end the process now, without waiting for worker threads.

    After an orderly shutdown nothing is left to save, but the interpreter would still
    join APScheduler's pool threads (an in-flight token request or webhook POST can
    take a full HTTP timeout), overrunning the container's grace and ending in SIGKILL.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
