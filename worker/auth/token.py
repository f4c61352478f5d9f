"""A bearer token and the arithmetic of when to renew it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def fingerprint(secret: str) -> str:
    """First 8 hex of a SHA-256: enough to tell tokens apart, useless to an attacker."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    expires_at: float
    refresh_at: float

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.access_token)

    def __repr__(self) -> str:
        return f"Token(fingerprint={self.fingerprint}, expires_at={self.expires_at:.0f})"
