"""Optional push alerts: a Slack-compatible JSON POST to `ALERT_WEBHOOK_URL`.

Prometheus alert rules (deploy/prometheus/alerts.yml) are the primary
alerting path; the webhook is for deployments without Alertmanager. Each
(kind, brand) alerts at most once per `min_interval_seconds` (counted from
the last delivered post: a failed one does not use up the interval), so a flapping
brand cannot flood a channel. The text is built from brand keys, fixed words
and counts, then scrubbed by the log redactor: never a key or a token.
"""

from __future__ import annotations

import threading
from enum import StrEnum

import requests

from worker.clock import Clock, system_clock
from worker.log import get_logger, redactor

log = get_logger(__name__)

TIMEOUT_SECONDS = 5.0


class AlertKind(StrEnum):
    PERMANENT_AUTH_FAILURE = "permanent_auth_failure"
    REPEATED_SYNC_FAILURE = "repeated_sync_failure"
    DELIST_GUARD = "delist_guard"


class Alerter:
    """Posts `{"text": …}`; a missing URL makes every call a no-op."""

    def __init__(
        self,
        url: str | None,
        *,
        session: requests.Session | None = None,
        min_interval_seconds: float = 900.0,
        clock: Clock = system_clock,
    ) -> None:
        self._url = url
        self._session = session or requests.Session()
        self._min_interval = min_interval_seconds
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._url)

    def send(self, kind: AlertKind, brand: str, text: str) -> bool:
        """True if posted; False when disabled, rate-limited or the POST failed (logged)."""
        if not self._url:
            return False
        now = self._clock()
        with self._lock:
            last = self._last.get((kind, brand))
            if last is not None and now - last < self._min_interval:
                return False
        message = redactor.scrub(f":rotating_light: rei-sync {kind.value} [{brand}]: {text}")
        try:
            response = self._session.post(
                self._url, json={"text": message}, timeout=TIMEOUT_SECONDS
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            log.warning("alert.post_failed", kind=kind.value, brand=brand, error=type(exc).__name__)
            return False
        if not 200 <= response.status_code < 300:
            log.warning(
                "alert.post_failed", kind=kind.value, brand=brand, status=response.status_code
            )
            return False
        # Only a delivered alert starts the quiet interval: a failed post is retried next time.
        with self._lock:
            self._last[(kind, brand)] = now
        log.info("alert.sent", kind=kind.value, brand=brand)
        return True
