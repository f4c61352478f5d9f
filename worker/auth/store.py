"""Where tokens live between refreshes: the `TokenStore` protocol and the in-memory store.

A store's one job beyond reading is `renew`: run the caller's renewal while
holding the brand's exclusive lock, handing it the token currently stored,
and keep what it returns. That is what makes N processes fetch one token: the
second one in sees the first one's token and returns it without any request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from worker.auth.token import Token

Renewal = Callable[[Token | None], Token]
"""Given the stored token (or None), return it unchanged or a newly acquired one."""


class TokenStore(Protocol):
    """Shared token state, keyed by brand and a fingerprint of the brand's credentials."""

    name: str

    def load(self, brand: str, credentials: str) -> Token | None:
        """The stored token, without taking the brand's lock."""
        ...

    def renew(self, brand: str, credentials: str, renewal: Renewal) -> Token:
        """Run `renewal(stored)` under the brand's exclusive lock and store its result.

        If `renewal` returns the very token it was given, nothing is written.
        If it raises, nothing is written and the error propagates.
        """
        ...

    def close(self) -> None: ...


class MemoryTokenStore:
    """One process's store; a lock per brand stands in for the advisory lock.

    Several `TokenManager`s may share one instance, which is how the tests
    play "many replicas" without Postgres.
    """

    name = "memory"

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._rows: dict[tuple[str, str], Token] = {}

    def __repr__(self) -> str:
        return f"MemoryTokenStore(rows={len(self._rows)})"

    def load(self, brand: str, credentials: str) -> Token | None:
        return self._rows.get((brand, credentials))

    def renew(self, brand: str, credentials: str, renewal: Renewal) -> Token:
        with self._brand_lock(brand):
            current = self._rows.get((brand, credentials))
            token = renewal(current)
            if token is not current:
                for key in [k for k in self._rows if k[0] == brand and k[1] != credentials]:
                    del self._rows[key]
                self._rows[(brand, credentials)] = token
            return token

    def close(self) -> None:
        """Nothing to release."""

    def _brand_lock(self, brand: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(brand, threading.Lock())
