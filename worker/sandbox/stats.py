"""Request counters for `GET /_sandbox/stats`: per endpoint and status, token calls per brand."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

_UNKNOWN = ""
"""Token requests whose apikey is no brand's."""


class Stats:
    def __init__(self, brands: tuple[str, ...]) -> None:
        self._brands = brands
        self._lock = threading.Lock()
        self._requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._auth_calls: Counter[str] = Counter()
        self._tokens_issued: Counter[str] = Counter()

    def request(self, endpoint: str, status: int | str) -> None:
        with self._lock:
            self._requests[endpoint][str(status)] += 1

    def auth_call(self, brand: str | None) -> None:
        with self._lock:
            self._auth_calls[brand or _UNKNOWN] += 1

    def token_issued(self, brand: str) -> None:
        with self._lock:
            self._tokens_issued[brand] += 1

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._auth_calls.clear()
            self._tokens_issued.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": {name: dict(counts) for name, counts in self._requests.items()},
                "auth_calls": {b: self._auth_calls[b] for b in self._brands},
                "auth_calls_unattributed": self._auth_calls[_UNKNOWN],
                "tokens_issued": {b: self._tokens_issued[b] for b in self._brands},
            }
