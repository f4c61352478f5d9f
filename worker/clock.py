"""The one clock seam. Logic takes `now` or a `Clock`; only this module reads the system time."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Seconds since the epoch, like `time.time`."""


def system_clock() -> float:
    return time.time()


def monotonic() -> float:
    """Seconds on a clock that never jumps: for measuring spans, not for timestamps."""
    return time.monotonic()


def sleep(seconds: float) -> None:
    """Wait `seconds` of real time (the default of every injectable `sleep`)."""
    time.sleep(seconds)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_datetime(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)
