"""The sandbox's own clock: system time plus an offset, or frozen.

Token expiry, token outages and the `Date` header all read it.
"""

from __future__ import annotations

import threading
from email.utils import formatdate

from worker.clock import Clock, system_clock


class SandboxClock:
    """Tests move this clock through the admin API instead of sleeping."""

    def __init__(self, source: Clock = system_clock) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None

    def now(self) -> float:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._source() + self._offset

    def set(
        self,
        *,
        offset_seconds: float | None = None,
        advance_seconds: float | None = None,
        freeze_at: float | None = None,
        unfreeze: bool = False,
    ) -> None:
        """`offset_seconds` replaces the offset; `advance_seconds` adds to it (or to frozen now)."""
        with self._lock:
            if unfreeze and self._frozen_at is not None:
                self._offset = self._frozen_at - self._source()
                self._frozen_at = None
            if offset_seconds is not None:
                self._offset = offset_seconds
                if self._frozen_at is not None and freeze_at is None:
                    self._frozen_at = self._source() + offset_seconds
            if freeze_at is not None:
                self._frozen_at = freeze_at
            if advance_seconds is not None:
                if self._frozen_at is not None:
                    self._frozen_at += advance_seconds
                else:
                    self._offset += advance_seconds

    def state(self) -> dict[str, float | None]:
        with self._lock:
            frozen = self._frozen_at
            offset = self._offset
        now = frozen if frozen is not None else self._source() + offset
        return {"now": now, "offset_seconds": offset, "frozen_at": frozen}

    def http_date(self) -> str:
        """RFC 7231 `Date` header value for now."""
        return formatdate(self.now(), usegmt=True)
