"""A hostile API on 127.0.0.1 for the security suite, and a second host that records
everything it receives (it must receive nothing).

`HostileServer(routes)` answers each request with the first route whose prefix the
path starts with; a route is a function of the request returning an `Answer`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


Route = Callable[[Received], Answer]


class HostileServer:
    """A loopback server answering by path prefix; every request it got is in `received`."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes = dict(routes or {})
        self.received: list[Received] = []
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Received(self.command, self.path, dict(self.headers), body)
                with lock:
                    owner.received.append(request)
                route = next(
                    (r for prefix, r in owner.routes.items() if self.path.startswith(prefix)),
                    None,
                )
                answer = route(request) if route else Answer(404, b'{"Message": "nothing"}')
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_HEAD = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.origin}/api/v1"

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serving(routes: dict[str, Route] | None = None) -> Iterator[HostileServer]:
    server = HostileServer(routes).start()
    try:
        yield server
    finally:
        server.stop()


def token_route(token: str = "hostile-token-" + "x" * 40) -> Route:
    def answer(request: Received) -> Answer:
        return Answer(200, b'{"access_token": "%s", "expires_in": 3600}' % token.encode())

    return answer


def fixed(status: int, body: bytes = b"", **headers: str) -> Route:
    sent = {
        "Content-Type": "application/json",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }

    def answer(request: Received) -> Answer:
        return Answer(status, body, sent)

    return answer
