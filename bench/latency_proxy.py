"""A loopback TCP proxy that delays every byte by a fixed time in each direction.

    with LatencyProxy(upstream=("127.0.0.1", 5432), delay_seconds=0.002) as proxy:
        proxy.port   # connect here: each way +2 ms, so a round trip costs +4 ms

It models a same-region cloud database: latency, not bandwidth. Each direction of
each connection is a reader that stamps chunks with `now + delay` and a writer
that sends them when due, so pipelined traffic is delayed, never serialised.
`upstream` is (host, port) or a Unix socket path (the embedded Postgres listens
on one). It listens on 127.0.0.1 only, holds at most `max_connections` and at
most `max_buffered` chunks per direction (the reader waits when full).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

CHUNK_BYTES = 1 << 16


class LatencyProxy:
    def __init__(
        self,
        upstream: tuple[str, int] | str,
        delay_seconds: float = 0.002,
        *,
        max_connections: int = 64,
        max_buffered: int = 1024,
    ) -> None:
        self.upstream = upstream
        self.delay = delay_seconds
        self.max_connections = max_connections
        self.max_buffered = max_buffered
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> LatencyProxy:
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None or not self.port:
            raise RuntimeError(f"latency proxy did not start: {self._error!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to __enter__
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._slots = asyncio.Semaphore(self.max_connections)
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        async with server:
            await self._stopped.wait()
            server.close()

    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        assert self._slots is not None
        if self._slots.locked():
            client_writer.close()
            return
        async with self._slots:
            try:
                if isinstance(self.upstream, str):
                    up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
                else:
                    up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                client_writer.close()
                return
            # Cancelled at shutdown: ended quietly (asyncio 3.11's stream callback would
            # print a traceback for a connection task that ends cancelled).
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(
                    self._pipe(client_reader, up_writer),
                    self._pipe(up_reader, client_writer),
                    return_exceptions=True,
                )
            for writer in (client_writer, up_writer):
                with contextlib.suppress(Exception):
                    writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(self.max_buffered)

        async def send() -> None:
            while True:
                when, data = await due.get()
                if not data:
                    break
                wait = when - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            with contextlib.suppress(Exception):
                writer.write_eof()

        sender = asyncio.create_task(send())
        try:
            while True:
                data = await reader.read(CHUNK_BYTES)
                await due.put((loop.time() + self.delay, data))
                if not data:
                    break
        except (ConnectionError, OSError):
            await due.put((0.0, b""))
        await sender
