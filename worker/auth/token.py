"""A bearer token, its states, and the arithmetic of when to renew it.

Everything here is pure: it takes `now` instead of reading a clock, so the
property tests can sweep lifetimes, buffers and skews without waiting.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

REFRESH_JITTER_FRACTION = 0.1
"""At most this share of the buffer is added as per-brand jitter before `refresh_at`."""

MAX_SKEW_SHARE = 0.25
"""The clock-skew margin never eats more than this share of the lifetime the server grants."""


class TokenState(enum.Enum):
    """Where a brand's token is in its life. Only FRESH is served without any work."""

    FRESH = "fresh"
    """Before `refresh_at`: served from memory, no lock, no I/O."""
    STALE = "stale"
    """Past `refresh_at` but still valid: served at once while one background refresh runs."""
    EXPIRED = "expired"
    """Past `expires_at`: callers block on the single in-flight refresh."""
    MISSING = "missing"
    """No token yet in this process; treated like EXPIRED."""
    FAILED = "failed"
    """The brand's keys were refused: the circuit is open until the cooldown ends."""


def fingerprint(secret: str) -> str:
    """First 8 hex of a SHA-256: enough to tell tokens apart in logs, useless to an attacker."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Token:
    """An access token with its absolute times (epoch seconds, local clock)."""

    access_token: str = field(repr=False)
    obtained_at: float
    """When the request that produced it was *sent*."""
    expires_at: float
    refresh_at: float

    def state(self, now: float) -> TokenState:
        if now < self.refresh_at:
            return TokenState.FRESH
        if now < self.expires_at:
            return TokenState.STALE
        return TokenState.EXPIRED

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.access_token)

    def __repr__(self) -> str:
        return (
            f"Token(fingerprint={self.fingerprint}, expires_at={self.expires_at:.0f}, "
            f"refresh_at={self.refresh_at:.0f})"
        )


def skew_margin(expires_in: float, skew_seconds: float) -> float:
    """The configured margin, capped so that a short-lived token keeps most of its life."""
    return min(skew_seconds, expires_in * MAX_SKEW_SHARE)


def refresh_buffer(lifetime: float, buffer_seconds: float) -> float:
    """`min(configured, lifetime / 2)`: a 60 s token with a 30 min buffer renews halfway."""
    return min(buffer_seconds, lifetime / 2)


def brand_jitter(brand: str) -> float:
    """A stable fraction in [0, 1) per brand, the same in every process, so brands spread out."""
    digest = hashlib.sha256(f"rei-sync:jitter:{brand}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def plan_token(
    access_token: str,
    *,
    sent_at: float,
    expires_in: float,
    buffer_seconds: float,
    skew_seconds: float,
    jitter: float = 0.0,
) -> Token:
    """Absolute times for a token the server granted for `expires_in` seconds.

    `expires_at` counts from when the request was sent (the server's clock
    started no earlier), less a skew margin. `refresh_at` sits a buffer before
    it, plus up to `REFRESH_JITTER_FRACTION` of the buffer per brand; with
    these caps a token is always used for at least ~a third of its life, so no
    lifetime can make the worker renew in a loop.
    """
    if expires_in <= 0:
        raise ValueError("expires_in must be positive")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    expires_at = sent_at + expires_in - skew_margin(expires_in, skew_seconds)
    buffer = refresh_buffer(expires_at - sent_at, max(0.0, buffer_seconds))
    refresh_at = expires_at - buffer * (1.0 + REFRESH_JITTER_FRACTION * jitter)
    return Token(access_token, sent_at, expires_at, refresh_at)
