"""The daemon's HTTP endpoints: `/healthz`, `/readyz`, `/brandz`, `/metrics` on a stdlib server.

A few routes do not justify a web framework: `BoundedHTTPServer` answers
requests on a small pool of threads, so a slow readiness probe (it queries the
database) never blocks a metrics scrape, and idle or half-open connections hold
no thread at all. Probes are plain JSON
`{"ok": bool, "checks": {...}}`; status 200 when ok, 503 otherwise. `HEAD`
answers every path like `GET`, without the body. `/metrics` speaks OpenMetrics
to a scraper that asks for it (`Accept: application/openmetrics-text`), the
classic text format otherwise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from worker.http_server import BoundedHTTPServer
from worker.log import get_logger

log = get_logger(__name__)

DEFAULT_PORT = 9108
PATHS = ("/healthz", "/readyz", "/brandz", "/metrics")
READ_TIMEOUT_SECONDS = 5.0
"""Per-connection socket timeout of a handler reading a request (`worker/http_server.py`
keeps connections that sent nothing off the handler threads altogether)."""


@dataclass(frozen=True)
class Probe:
    ok: bool
    checks: dict[str, str] = field(default_factory=dict)
    """Check name → `ok` or a one-line reason; never a secret."""


ProbeFunction = Callable[[], Probe]
Page = Callable[[], tuple[str, bytes]]
"""A read-only page (the status page): returns (content type, body)."""
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}


class ProbeHandler(BaseHTTPRequestHandler):
    """Answers one request: `/metrics`, a page of `pages`, a probe of `probes`, else 404.
    `HealthServer` serves a subclass naming its own probes and pages."""

    server_version = "rei-sync"
    probes: ClassVar[Mapping[str, ProbeFunction]] = {}
    pages: ClassVar[Mapping[str, Page]] = {}

    def version_string(self) -> str:
        """No Python or library version in the `Server` header."""
        return self.server_version

    head = False

    def do_HEAD(self) -> None:
        self.head = True
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encode, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, content_type, encode(REGISTRY))
            return
        page = self.pages.get(path)
        if page is not None:
            self._page(page)
            return
        probe = self.probes.get(path)
        if probe is None:
            self._send(404, "text/plain", b"not found\n")
            return
        try:
            result = probe()
        except Exception as exc:
            result = Probe(False, {"probe": f"crashed: {type(exc).__name__}"})
        body = json.dumps({"ok": result.ok, "checks": result.checks}).encode()
        self._send(200 if result.ok else 503, "application/json", body)

    def _page(self, page: Page) -> None:
        try:
            content_type, body = page()
        except Exception as exc:
            log.exception("health.page_failed", path=self.path.split("?", 1)[0])
            body = f"page failed: {type(exc).__name__}\n".encode()
            self._send(500, "text/plain; charset=utf-8", body, PAGE_HEADERS)
            return
        self._send(200, content_type, body, PAGE_HEADERS)

    def _send(
        self,
        status: int,
        content_type: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not self.head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes every few seconds would drown the log; errors still show via status."""


def handler_for(
    probes: Mapping[str, ProbeFunction], pages: Mapping[str, Page]
) -> type[ProbeHandler]:
    """A `ProbeHandler` for these probes and pages; `READ_TIMEOUT_SECONDS` is read now."""

    class Handler(ProbeHandler):
        timeout = READ_TIMEOUT_SECONDS

    Handler.probes = probes
    Handler.pages = pages
    return Handler


class HealthServer:
    """Serves the probes on `bind:port` (port 0 picks a free one) in a daemon thread."""

    def __init__(
        self,
        healthz: ProbeFunction,
        readyz: ProbeFunction,
        *,
        brandz: ProbeFunction | None = None,
        bind: str,
        port: int,
        pages: Mapping[str, Page] | None = None,
    ) -> None:
        probes = {"/healthz": healthz, "/readyz": readyz}
        if brandz is not None:
            probes["/brandz"] = brandz
        extra = dict(pages or {})
        self._pages = tuple(extra)
        self._server = BoundedHTTPServer((bind, port), handler_for(probes, extra))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-http", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def url(self, path: str = "") -> str:
        host, port = self.address
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
        return f"http://{shown}:{port}{path}"

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health.listening", url=self.url(), paths=[*PATHS, *self._pages])
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
