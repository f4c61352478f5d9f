"""First cut: a per-brand in-memory token cache, renewed when within the buffer."""

from __future__ import annotations

import threading

import requests

from worker.auth.endpoint import request_token
from worker.auth.token import Token
from worker.clock import Clock, system_clock
from worker.config import Brand
from worker.log import redactor


class TokenManager:
    def __init__(
        self,
        brands: tuple[Brand, ...],
        *,
        buffer_seconds: float = 30 * 60,
        session: requests.Session | None = None,
        clock: Clock = system_clock,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self._brands = {b.key: b for b in brands}
        self._buffer_seconds = buffer_seconds
        self._session = session or requests.Session()
        self._clock = clock
        self._timeout = timeout
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()

    def needs_refresh(self, brand: str) -> bool:
        token = self._tokens.get(brand)
        return token is None or self._clock() >= token.refresh_at

    def get_valid_token(self, brand: str) -> str:
        token = self._tokens.get(brand)
        if token is not None and self._clock() < token.refresh_at:
            return token.access_token
        return self.force_refresh(brand)

    def force_refresh(self, brand: str, rejected: str | None = None) -> str:
        with self._lock:
            current = self._tokens.get(brand)
            if current is not None and rejected is not None and current.access_token != rejected:
                return current.access_token
            sent_at = self._clock()
            response = request_token(self._brands[brand], self._session, self._timeout)
            redactor.register([response.access_token])
            expires_at = sent_at + response.expires_in
            buffer = min(self._buffer_seconds, response.expires_in / 2)
            token = Token(response.access_token, expires_at, expires_at - buffer)
            self._tokens[brand] = token
            return token.access_token
