"""The background refresh worker: renews a STALE token while callers keep using it.

At most one thread per brand (it leads that brand's single flight, so a
blocking caller that arrives meanwhile joins it instead of starting another).
Errors are not just logged: the refresh records them in the brand's failure
gate and the flight, so the next caller and `status()` see them. `close()`
refuses new work and joins the threads, for a clean shutdown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from worker.auth.flight import Flight, SingleFlight
from worker.auth.token import Token
from worker.errors import AuthError, TransientAuthError
from worker.log import get_logger

JOIN_TIMEOUT_SECONDS = 30.0

log = get_logger(__name__)


class BackgroundRefresher:
    def __init__(self, flights: SingleFlight) -> None:
        self._flights = flights
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._closed = False

    def start(self, brand: str, refresh: Callable[[], Token]) -> bool:
        """Start a refresh thread for `brand` unless one (or any refresh) is already in flight."""
        with self._lock:
            if self._closed:
                return False
            flight = self._flights.lead(brand)
            if flight is None:
                return False
            thread = threading.Thread(
                target=self._run,
                args=(brand, flight, refresh),
                name=f"token-refresh-{brand}",
                daemon=True,  # an HTTP call in progress must not hold up interpreter exit
            )
            try:
                thread.start()
            except RuntimeError as exc:  # "can't start new thread": out of threads or memory
                # Land the flight: left registered, every later refresh of the brand would
                # join it and wait for a thread that never ran.
                log.error("token.background_refresh_not_started", brand=brand, error=str(exc))
                error = TransientAuthError(brand, "could not start the background refresh")
                self._flights.finish(brand, flight, None, error)
                return False
            self._threads[brand] = thread
            return True

    def _run(self, brand: str, flight: Flight, refresh: Callable[[], Token]) -> None:
        try:
            self._flights.fly(brand, flight, refresh)
        except AuthError:
            pass  # recorded by the refresh in the brand's gate, and landed on the flight
        except Exception:
            log.exception("token.background_refresh_crashed", brand=brand)
        finally:
            with self._lock:
                if self._threads.get(brand) is threading.current_thread():
                    del self._threads[brand]

    def join(self, timeout: float = JOIN_TIMEOUT_SECONDS) -> bool:
        """Wait for the refreshes running now; True if all finished within `timeout` each."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in threads)

    def close(self, timeout: float = JOIN_TIMEOUT_SECONDS) -> bool:
        with self._lock:
            self._closed = True
        return self.join(timeout)
