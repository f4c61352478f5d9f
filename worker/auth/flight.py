"""Single-flight: at most one refresh per brand in a process; everyone else shares its outcome.

google-auth's blocking refresh lets every thread that finds the token expired
call the endpoint (its issue #1780); here the first caller leads and the rest
wait on the leader's `Event`, so 64 threads cost one request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from worker.auth.token import Token
from worker.errors import AuthError, TransientAuthError

WAIT_TIMEOUT_SECONDS = 120.0
"""Upper bound for a waiter; the leader's own HTTP and lock timeouts end it well before."""

MAX_ROUNDS = 3
"""A caller that rejects a shared result leads a new flight; this bounds it (never a loop)."""


class Flight:
    """One refresh in progress: its result or error, and an event set when it lands."""

    def __init__(self) -> None:
        self._landed = threading.Event()
        self.token: Token | None = None
        self.error: AuthError | None = None

    def land(self, token: Token | None, error: AuthError | None) -> None:
        self.token, self.error = token, error
        self._landed.set()

    def wait(self, brand: str, timeout: float) -> Token:
        if not self._landed.wait(timeout):
            raise TransientAuthError(brand, f"gave up waiting {timeout:.0f}s for the token refresh")
        if self.error is not None:
            # A new instance per waiter: a shared one would collect every waiter's traceback.
            raise type(self.error)(self.error.brand, str(self.error).removeprefix(f"{brand}: "))
        assert self.token is not None
        return self.token


class SingleFlight:
    def __init__(self, *, wait_timeout_seconds: float = WAIT_TIMEOUT_SECONDS) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, Flight] = {}
        self._wait_timeout = wait_timeout_seconds

    def in_flight(self, key: str) -> bool:
        return key in self._flights

    def lead(self, key: str) -> Flight | None:
        """A new flight if none is in the air for `key` (the caller must `finish` it), else None."""
        with self._lock:
            if key in self._flights:
                return None
            flight = self._flights[key] = Flight()
            return flight

    def finish(
        self, key: str, flight: Flight, token: Token | None, error: AuthError | None
    ) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.land(token, error)

    def fly(self, key: str, flight: Flight, refresh: Callable[[], Token]) -> Token:
        """Run `refresh` as the leader of `flight` and land it, whatever happens."""
        try:
            token = refresh()
        except AuthError as exc:
            self.finish(key, flight, None, exc)
            raise
        except BaseException:
            self.finish(key, flight, None, TransientAuthError(key, "token refresh crashed"))
            raise
        self.finish(key, flight, token, None)
        return token

    def run(
        self,
        key: str,
        refresh: Callable[[], Token],
        *,
        accept: Callable[[Token], bool] = lambda _token: True,
        on_join: Callable[[], None] = lambda: None,
    ) -> Token:
        """Lead a refresh or wait for the one in flight; lead again if its result is refused."""
        token: Token | None = None
        for _round in range(MAX_ROUNDS):
            with self._lock:
                flight = self._flights.get(key)
                leader = flight is None
                if flight is None:
                    flight = self._flights[key] = Flight()
            if leader:
                return self.fly(key, flight, refresh)
            on_join()
            token = flight.wait(key, self._wait_timeout)
            if accept(token):
                return token
        raise TransientAuthError(key, "token refresh kept returning a rejected token")
