"""HTTP front of the sandbox: stdlib ThreadingHTTPServer, keep-alive, the vendor's pipeline.

For an API request the order is: route → fault (latency, reset, stall, 5xx,
429, HTML page, malformed flag) → bearer token → handler. The token endpoint
has its own faults (latency, outage). `/_sandbox/` is the admin API.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, parse_qsl, urlsplit

import orjson

from worker.sandbox import admin, api
from worker.sandbox import responses as r
from worker.sandbox.config import SandboxConfig
from worker.sandbox.faults import FaultKind, truncate
from worker.sandbox.state import SandboxState

API_PREFIX = "/api/v1"
ADMIN_PREFIX = "/_sandbox"
TOKEN_ENDPOINT = "oauth/token"  # noqa: S105 - a path, not a secret
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = 1 << 20
IDLE_TIMEOUT_SECONDS = 120
"""Idle keep-alive connections are closed after this long (IIS's default)."""


class _Reset(Exception):
    """Abort the connection with a TCP RST instead of answering."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        self.state = state
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up keep-alive connections too: a stopped sandbox must not keep answering."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up (timeouts, resets) are normal here, not tracebacks."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS

    def version_string(self) -> str:
        return "Microsoft-IIS/10.0"

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in one write, and without Nagle's delay: otherwise a
        # small answer waits ~40 ms for the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def state(self) -> SandboxState:
        return cast(_HTTPServer, self.server).state

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the stats endpoint is the sandbox's log."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        return self.state.clock.http_date()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        path = url.path
        try:
            if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
                self._admin(path[len(ADMIN_PREFIX) :], url.query, body)
            elif path.lower().startswith(API_PREFIX + "/"):
                self._api(path[len(API_PREFIX) + 1 :], body)
            else:
                self._send(r.no_route(self._full_url(), self._accept()), "unmatched")
        except _Reset:
            self._reset()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length > 0 else b""

    def _accept(self) -> str | None:
        return self.headers.get("Accept")

    def _full_url(self) -> str:
        host = self.headers.get("Host") or "127.0.0.1"
        return f"http://{host}{self.path}"

    # ---- admin -------------------------------------------------------------------------

    def _admin(self, path: str, query: str, body: bytes) -> None:
        if not _is_loopback(self.client_address[0]):
            self._send(r.json_response({"error": "admin API is loopback-only"}, 403), None)
            return
        answer = admin.handle(self.state, self.command, path, dict(parse_qsl(query)), body)
        if isinstance(answer, admin.Stream):
            self._stream(answer)
        else:
            self._send(answer, None)

    # ---- API ---------------------------------------------------------------------------

    def _api(self, rest: str, body: bytes) -> None:
        segments = rest.split("/")
        if segments and segments[-1] == "":
            segments.pop()
        if [s.lower() for s in segments] == TOKEN_ENDPOINT.split("/") and self.command == "POST":
            self._send(self._token(body), TOKEN_ENDPOINT)
            return
        state = self.state
        accept = self._accept()
        found = api.route(segments)
        endpoint = found.endpoint if found else "unmatched"
        fault = state.faults.draw()
        if fault.latency_seconds > 0:
            state.stopping.wait(fault.latency_seconds)
        if fault.kind is FaultKind.RESET:
            state.stats.request(endpoint, "reset")
            raise _Reset
        if fault.kind is FaultKind.STALL:
            state.stopping.wait(state.faults.settings.stall_seconds)
        elif fault.kind is FaultKind.ERROR:
            answer = r.server_error(fault.status, accept)
            if fault.status == 503 and state.faults.settings.retry_after_on_503:
                answer.headers.append(("Retry-After", state.faults.retry_after(state.clock.now())))
            self._send(answer, endpoint)
            return
        elif fault.kind is FaultKind.RATE_LIMIT:
            retry_after = state.faults.retry_after(state.clock.now())
            self._send(r.rate_limited(retry_after, accept), endpoint)
            return
        elif fault.kind is FaultKind.HTML:
            self._send(r.html_page(), endpoint)
            return
        if found is None:
            self._send(r.no_route(self._full_url(), accept), endpoint)
            return
        if self.command != "GET":
            self._send(r.method_not_allowed(self.command, accept), endpoint)
            return
        if state.faults.key_rotation_due():
            state.tokens.revoke_tokens()  # the signing key rotated: every token is void
        brand = state.tokens.authorize(
            _bearer(self.headers.get("Authorization")),
            state.faults.settings.token_max_requests,
        )
        if brand is None:
            self._send(r.denied(accept), endpoint)
            return
        malformed = fault.detail if fault.kind is FaultKind.MALFORMED else None
        call = api.Call(state.brands[brand], state, accept, malformed)
        response = found.call(call)
        if fault.kind is FaultKind.TRUNCATED and response.status == 200:
            response.body = truncate(response.body)
        self._send(response, endpoint)

    def _token(self, body: bytes) -> r.Response:
        """OWIN's token endpoint: form body, password grant, the three keys by exact name."""
        state = self.state
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if content_type != FORM_TYPE:
            state.stats.auth_call(_api_key_in_json(body, state))
        else:
            state.stats.auth_call(state.tokens.brand_of_api_key(form.get("apikey")))
        delay = state.faults.settings.token_latency_seconds
        if delay > 0:
            state.stopping.wait(delay)
        outage = state.faults.token_outage()
        if outage == "refuse":
            state.stats.request(TOKEN_ENDPOINT, "reset")
            raise _Reset
        if outage == "5xx":
            return r.server_error(503, self._accept())
        if content_type != FORM_TYPE:
            return r.oauth_error("unsupported_grant_type")
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return r.oauth_error("unauthorized_client")
        if grant != "password":
            return r.oauth_error("unsupported_grant_type")
        brand = state.tokens.check_keys(
            form.get("apikey", ""), form.get("secretkey", ""), form.get("integratorID", "")
        )
        if brand is None:
            return r.oauth_error(
                "invalid_grant", "The apikey, secretkey or integratorID is incorrect."
            )
        token = state.tokens.issue(brand)
        state.stats.token_issued(brand)
        return r.token_response(token, state.tokens.ttl_seconds)

    # ---- writing -----------------------------------------------------------------------

    def _send(self, response: r.Response, endpoint: str | None) -> None:
        """Status line, headers and body in a single write (see `setup`)."""
        if endpoint is not None:
            self.state.stats.request(endpoint, response.status)
        phrase = self.responses.get(response.status, ("",))[0]
        head = [
            f"{self.protocol_version} {response.status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            *(f"{name}: {value}" for name, value in response.headers),
        ]
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(data + response.body if self.command != "HEAD" else data)

    def _stream(self, stream: admin.Stream) -> None:
        self.send_response(200)
        self.send_header("Content-Type", stream.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in stream.chunks:
            self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _reset(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


def _bearer(header: str | None) -> str:
    if not header:
        return ""
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _api_key_in_json(body: bytes, state: SandboxState) -> str | None:
    """Attribute a (wrong) JSON token request to a brand, for the auth-call counters."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    key = payload.get("apikey") if isinstance(payload, dict) else None
    return state.tokens.brand_of_api_key(key if isinstance(key, str) else None)


def _is_loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1")


class SandboxServer:
    """The sandbox on a port of its own, served from daemon threads.

    `SandboxServer(cfg).start()` returns self; `with SandboxServer(cfg).start() as s:`
    stops it on exit. `host`/`port` override the config's.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.state = SandboxState(self.config)
        self._address = (
            self.config.host if host is None else host,
            self.config.port if port is None else port,
        )
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        if self._httpd is None:
            self._httpd = _HTTPServer(self._address, self.state)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="rei-sandbox",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("sandbox not started")
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        host = self._address[0]
        if host in ("0.0.0.0", ""):  # noqa: S104 - reporting, not binding
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    @property
    def admin_url(self) -> str:
        return self.root_url + ADMIN_PREFIX

    @property
    def brand_keys(self) -> tuple[str, ...]:
        return self.config.brands

    def env_for(self, brand: str) -> dict[str, str]:
        keys = next((k for k in self.state.keys if k.brand == brand.upper()), None)
        if keys is None:
            raise KeyError(f"unknown sandbox brand {brand!r}; known: {self.brand_keys}")
        prefix = f"REMAX_{keys.brand}_"
        return {
            prefix + "API_URL": self.base_url,
            prefix + "API_KEY": keys.api_key,
            prefix + "INTEGRATOR_ID": keys.integrator_id,
            prefix + "SECRET_KEY": keys.secret_key,
        }

    def env(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for brand in self.brand_keys:
            merged.update(self.env_for(brand))
        return merged
