"""Fault decisions for API requests, drawn from one seeded stream so a scenario replays.

Every API request draws the same three numbers whatever happens to it (fault
kind, detail, latency jitter), so the n-th request of a run meets the same
fault for the same `fault_seed`, independent of which faults earlier ones hit.
"""

from __future__ import annotations

import random
import threading
import zlib
from dataclasses import dataclass
from email.utils import formatdate
from enum import Enum
from typing import Any

from worker.sandbox.clock import SandboxClock
from worker.sandbox.config import FaultSettings, ImageFailureMode, OutageMode


class FaultKind(Enum):
    NONE = "none"
    ERROR = "error"
    RESET = "reset"
    STALL = "stall"
    RATE_LIMIT = "rate_limit"
    HTML = "html"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    latency_seconds: float
    status: int = 0
    detail: float = 0.0
    """A second uniform draw: which records a malformed page spoils."""


class FaultInjector:
    def __init__(self, settings: FaultSettings, clock: SandboxClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._settings = settings
        self._rng = random.Random(settings.fault_seed)
        self._outage_until: float | None = None
        self._api_requests = 0
        """API requests since the settings were set, for `key_rotation_every_requests`."""
        self._arm_outage()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        """Apply admin changes (ValueError if bad); restarts the seeded stream."""
        with self._lock:
            self._settings = self._settings.updated(changes)
            self._rng = random.Random(self._settings.fault_seed)
            self._api_requests = 0
            if "token_outage" in changes:
                self._arm_outage()
            return self._settings

    def reset(self) -> FaultSettings:
        return self.replace(FaultSettings())

    def replace(self, settings: FaultSettings) -> FaultSettings:
        with self._lock:
            self._settings = settings
            self._rng = random.Random(settings.fault_seed)
            self._api_requests = 0
            self._arm_outage()
            return settings

    def _arm_outage(self) -> None:
        outage = self._settings.token_outage
        self._outage_until = None if outage is None else self._clock.now() + outage.seconds

    def token_outage(self) -> OutageMode | None:
        """The outage mode if the token endpoint is down right now (sandbox clock)."""
        outage = self._settings.token_outage
        until = self._outage_until
        if outage is None or until is None or self._clock.now() >= until:
            return None
        return outage.mode

    def key_rotation_due(self) -> bool:
        """Count one API request; True on every `key_rotation_every_requests`-th one."""
        with self._lock:
            every = self._settings.key_rotation_every_requests
            self._api_requests += 1
            return every > 0 and self._api_requests % every == 0

    @property
    def key_rotations(self) -> int:
        """Key rotations since the settings were set."""
        with self._lock:
            every = self._settings.key_rotation_every_requests
            return self._api_requests // every if every > 0 else 0

    def retry_after(self, now: float) -> str:
        """The `Retry-After` value: `retry_after_seconds`, or that moment as an HTTP-date."""
        settings = self._settings
        if settings.retry_after_format == "http-date":
            return formatdate(now + settings.retry_after_seconds, usegmt=True)
        return str(settings.retry_after_seconds)

    def image_failure(self, listing_id: int) -> ImageFailureMode | None:
        """How `propertyimages/{listing_id}` fails, if it is one of the failing listings.

        Not drawn from the request stream: a listing either always fails or never does
        (`failing_images_ids`, or a share `failing_images_rate` picked by id and seed).
        """
        s = self._settings
        if listing_id in s.failing_images_ids or _picked(listing_id, s):
            return s.failing_images_mode
        return None

    def draw(self) -> Fault:
        with self._lock:
            s = self._settings
            roll, detail, jitter = self._rng.random(), self._rng.random(), self._rng.random()
        latency = (s.latency_ms + jitter * s.latency_jitter_ms) / 1000.0
        edge = 0.0
        for kind, rate in (
            (FaultKind.ERROR, s.error_rate),
            (FaultKind.RESET, s.reset_rate),
            (FaultKind.STALL, s.stall_rate),
            (FaultKind.RATE_LIMIT, s.rate_limit_rate),
            (FaultKind.HTML, s.html_page_rate),
            (FaultKind.MALFORMED, s.malformed_rate),
            (FaultKind.TRUNCATED, s.truncated_rate),
        ):
            edge += rate
            if roll < edge:
                status = s.error_statuses[int(detail * len(s.error_statuses))]
                return Fault(kind, latency, status if kind is FaultKind.ERROR else 0, detail)
        return Fault(FaultKind.NONE, latency)


def _picked(listing_id: int, settings: FaultSettings) -> bool:
    if settings.failing_images_rate <= 0:
        return False
    roll = zlib.crc32(f"{settings.fault_seed}:{listing_id}".encode()) / 2**32
    return roll < settings.failing_images_rate


_PROPERTY_SPOILERS: tuple[tuple[str, Any], ...] = (
    ("listingId", None),  # None = drop the key
    ("listPrice", "N/A"),
    ("bedroomsTotal", "tres"),
    ("yearBuilt", 99999),
    ("listPrice", -1),
    ("latitude", 1234.5),
    ("listingDate", "31/02/2016"),
    ("member", "abc"),
)
_OTHER_SPOILERS: dict[str, tuple[tuple[str, Any], ...]] = {
    "associateID": (("associateID", None), ("associateID", "abc"), ("firstName", 42)),
    "ListingId": (("ListingId", None), ("Prioridad", "uno"), ("PhotoId", -7)),
}


def truncate(body: bytes) -> bytes:
    """The first half of a JSON body (at least one byte short): no JSON parser accepts it."""
    return body[: max(0, min(len(body) - 1, len(body) // 2))]


def spoil(records: list[dict[str, Any]], detail: float, key_field: str) -> list[dict[str, Any]]:
    """Copies of `records` with up to three of them malformed (wrong type, missing key, absurd).

    The first spoiled record always loses its key field, so a client can tell
    a malformed page happened from its reject count.
    """
    if not records:
        return records
    spoilers = _PROPERTY_SPOILERS if key_field == "listingId" else _OTHER_SPOILERS[key_field]
    out = [dict(r) for r in records]
    first = int(detail * len(out))
    for n in range(min(3, len(out))):
        index = (first + n * 7) % len(out)
        field, value = spoilers[0] if n == 0 else spoilers[int(detail * 997 + n) % len(spoilers)]
        if value is None:
            out[index].pop(field, None)
        else:
            out[index][field] = value
    return out
