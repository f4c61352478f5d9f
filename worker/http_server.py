"""A stdlib HTTP server that a crowd of idle connections cannot exhaust.

`ThreadingHTTPServer` starts one thread per accepted connection and lets it block
reading forever: a handful of half-open sockets holds as many threads for as long
as they stay open. Here an accepted connection first waits in one selector thread
without a thread of its own; only when its first bytes arrive is it handed to a
fixed pool of `workers` threads, whose handler reads with a per-connection timeout.
A connection that sends nothing for `idle_seconds` is closed, and at most
`max_waiting` connections wait at once (the oldest is closed to admit a new one).
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from worker.clock import monotonic

DEFAULT_WORKERS = 8
DEFAULT_IDLE_SECONDS = 5.0
DEFAULT_MAX_WAITING = 512
POLL_SECONDS = 0.25


class BoundedHTTPServer(HTTPServer):
    """`HTTPServer` with bounded handler threads and idle connections that cost none."""

    request_queue_size = 128
    """The listen backlog (the stdlib's 5 drops the SYNs of a burst of connections)."""

    def __init__(
        self,
        address: tuple[str, int],
        handler: Callable[..., BaseHTTPRequestHandler],
        *,
        workers: int = DEFAULT_WORKERS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        max_waiting: int = DEFAULT_MAX_WAITING,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        super().__init__(address, handler)
        self._idle = idle_seconds
        self._max_waiting = max_waiting
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="health-http")
        self._arrivals: queue.SimpleQueue[tuple[socket.socket, Any]] = queue.SimpleQueue()
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._closed = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="health-http-accept", daemon=True)
        self._watcher.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Park the accepted connection until it sends something (never blocks here)."""
        self._arrivals.put((request, client_address))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full: a wake-up is already pending
            self._wake_write.send(b"\0")

    def _watch(self) -> None:
        waiting: dict[socket.socket, tuple[Any, float]] = {}
        while not self._closed.is_set():
            for key, _ in self._selector.select(timeout=POLL_SECONDS):
                if key.fileobj is self._wake_read:
                    self._drain_wake()
                    continue
                connection = key.fileobj
                assert isinstance(connection, socket.socket)
                self._selector.unregister(connection)
                address, _ = waiting.pop(connection)
                self._pool.submit(self._handle, connection, address)
            self._admit(waiting)
            self._expire(waiting)
        for connection in waiting:
            self.shutdown_request(connection)

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_read.recv(4096):
                pass

    def _admit(self, waiting: dict[socket.socket, tuple[Any, float]]) -> None:
        while True:
            try:
                connection, address = self._arrivals.get_nowait()
            except queue.Empty:
                return
            if len(waiting) >= self._max_waiting:
                oldest = min(waiting, key=lambda c: waiting[c][1])
                self._selector.unregister(oldest)
                del waiting[oldest]
                self.shutdown_request(oldest)
            waiting[connection] = (address, self._clock() + self._idle)
            self._selector.register(connection, selectors.EVENT_READ)

    def _expire(self, waiting: dict[socket.socket, tuple[Any, float]]) -> None:
        now = self._clock()
        for connection in [c for c, (_, deadline) in waiting.items() if deadline <= now]:
            self._selector.unregister(connection)
            del waiting[connection]
            self.shutdown_request(connection)

    def _handle(self, connection: socket.socket, address: Any) -> None:
        try:
            self.finish_request(connection, address)
        except Exception:
            self.handle_error(connection, address)
        finally:
            self.shutdown_request(connection)

    def server_close(self) -> None:
        super().server_close()
        self._closed.set()
        self._wake()
        self._watcher.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()
