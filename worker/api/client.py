"""The authenticated REI API client: bearer token, timeouts, bounded 401 answers, JSON decoding."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import orjson
import requests

from worker.api import metrics
from worker.api.errors import body_kind, describe_body, error_message, named_ids
from worker.api.salvage import salvage_page
from worker.clock import Clock, monotonic, system_clock
from worker.config import Brand
from worker.errors import (
    ApiDecodeError,
    ApiRedirectError,
    ApiStatusError,
    ApiTransportError,
    ReiSyncError,
    TokenRefusedError,
)
from worker.log import get_logger
from worker.retry import RetryPolicy, with_retries
from worker.retry_after import retry_after_seconds

log = get_logger(__name__)

DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_READ_TIMEOUT_SECONDS = 30.0
MAX_TOKEN_REFRESHES_PER_REQUEST = 3
"""Forced token refreshes one request may ask for after 401s (so at most 1 + 3 tokens sent).

Each one follows a 401 on a token newer than the one refused before it: a server that
revokes tokens often can refuse a token obtained a moment ago, and that must not fail
the request at once. The bound keeps it from ever becoming a loop; the refreshes are
shared with every other thread (single flight), so they add no auth calls."""


AttemptObserver = Callable[[int | None, float], None]
"""Told of every request sent: its HTTP status (None: no answer) and its seconds."""


class TokenSource(Protocol):
    def get_valid_token(self, brand: str) -> str: ...

    def force_refresh(self, brand: str, rejected: str | None = None) -> str: ...

    def mark_refused(self, brand: str, refused: str) -> None: ...


@dataclass(frozen=True)
class Page:
    skip: int
    take: int
    items: list[Any]

    @property
    def is_last(self) -> bool:
        """The API has no total count and a server may cap pages silently: only an
        empty page proves the end of the list (a short one may be a cap)."""
        return not self.items

    @property
    def is_short(self) -> bool:
        """Fewer items than asked: the end of the list, or a server's page cap."""
        return len(self.items) < self.take

    @property
    def next_skip(self) -> int:
        """Where the next page starts: after the items actually received."""
        return self.skip + len(self.items)


class ReiClient:
    """Read-only client for one brand. Never calls the API's write endpoints."""

    def __init__(
        self,
        brand: Brand,
        tokens: TokenSource,
        *,
        session: requests.Session | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
        retry: RetryPolicy | None = None,
        clock: Clock = system_clock,
        max_token_refreshes: int = MAX_TOKEN_REFRESHES_PER_REQUEST,
        pool_connections: int | None = None,
    ) -> None:
        if max_token_refreshes < 0:
            raise ValueError("max_token_refreshes must not be negative")
        self.brand = brand
        self._clock = clock
        """Wall clock (epoch seconds) that a `Retry-After` HTTP-date is counted from."""
        self._tokens = tokens
        self._session = session or requests.Session()
        _widen_pool(self._session, brand.api_url, max(pool_connections or 0, POOL_CONNECTIONS))
        self._environment = _environment(self._session, brand.api_url)
        self._timeout = (connect_timeout, read_timeout)
        self._retry = retry or RetryPolicy()
        self._max_token_refreshes = max_token_refreshes
        self._observer: AttemptObserver | None = None

    def stopping(self, stop: threading.Event | None) -> ReiClient:
        """This client (same session and tokens) whose retry waits wake on `stop`.

        A backoff in progress when `stop` is set ends at once with `StopRequested`.
        """
        if stop is None or self._retry.stop is stop:
            return self
        twin = copy.copy(self)
        twin._retry = self._retry.stopping(stop)
        return twin

    def observed(self, observer: AttemptObserver) -> ReiClient:
        """This client (same session, tokens and retries) telling `observer` of every
        attempt it sends: the HTTP status (None: no answer) and the seconds it took."""
        twin = copy.copy(self)
        twin._observer = observer
        return twin

    def get_json(self, path: str) -> Any:
        """GET `{base}/{path}` and decode it.

        Connection errors, timeouts, 429/5xx and non-JSON 200s are retried per the
        client's `RetryPolicy`. A 401 is answered with a refreshed token and a retry, up
        to `MAX_TOKEN_REFRESHES_PER_REQUEST` times, each for a token newer than the last
        refused; a request still refused then raises `TokenRefusedError` (that request only).
        """
        return with_retries(
            lambda: self._get_json_once(path),
            self._retry,
            what=path,
            on_retry=self._count_retry(path),
        )

    def get_json_or_none(self, path: str) -> Any:
        """Like `get_json`, but the API's own "not found" answer for the id is `None`.

        Only that shape (`ApiStatusError.is_not_found`) proves the id unknown: a 404
        with `ModelState` (the vendor's "bad request"), ASP.NET's "No HTTP resource was
        found", a proxy's HTML page or any other body is raised like any other error.
        """
        try:
            return self.get_json(path)
        except ApiStatusError as exc:
            if exc.is_not_found:
                return None
            raise

    def _get_json_once(self, path: str, *, salvage: bool = False) -> Any:
        """One GET. `salvage`: a page orjson refuses whole is decoded record by record
        (`worker/api/salvage.py`) when its list of records can be found."""
        response = self._send_authorized(path)
        if response.status_code != 200:
            content_type = response.headers.get("Content-Type", "")
            kind, model_state = body_kind(response.content, content_type)
            raise ApiStatusError(
                response.status_code,
                error_message(response.content, content_type),
                path=path,
                retry_after=retry_after_seconds(
                    response.headers.get("Retry-After"), now=self._clock()
                ),
                body_kind=kind,
                model_state=model_state,
                named_ids=named_ids(response.content),
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            salvaged = salvage_page(response.content) if salvage else None
            if salvaged is not None:
                log.warning("api.page_salvaged", path=path)
                return salvaged
            shape = describe_body(response.content, response.headers.get("Content-Type", ""))
            raise ApiDecodeError(f"{path}: HTTP 200 but the body is not JSON ({shape})") from None

    def fetch_page(self, path_for: PagePath, take: int, skip: int) -> Page:
        """One page; a body of the wrong shape is retried like any other decode error."""
        path = path_for.path(take, skip)

        def once() -> Page:
            return Page(skip, take, path_for.items(self._get_json_once(path, salvage=True)))

        return with_retries(once, self._retry, what=path, on_retry=self._count_retry(path))

    def pages(self, path_for: PagePath, take: int, start: int = 0) -> Iterator[Page]:
        """Pages of `take` from offset `start` until an empty page, one at a time.

        Each page starts where the items of the one before ended, so a server that
        answers fewer items than asked (a cap) loses nothing; the end costs one
        request for the empty page.
        """
        skip = start
        while True:
            page = self.fetch_page(path_for, take, skip)
            yield page
            if page.is_last:
                return
            skip = page.next_skip

    def _send_authorized(self, path: str) -> requests.Response:
        """Send with the brand's token; after a 401, with a newer one, within the bound.

        Every refused token goes back to the token source (`force_refresh` marks it and
        hands out a token never refused; `mark_refused` when giving up), so no caller is
        handed it again. A source that hands back a token this request already sent ends
        the request too: each retry must be on a newer token, never a loop.
        """
        brand = self.brand.key
        token = self._tokens.get_valid_token(brand)
        sent = [token]
        response = self._send(path, token)
        while response.status_code == 401:
            if len(sent) > self._max_token_refreshes:
                self._tokens.mark_refused(brand, token)
                metrics.UNAUTHORIZED.labels(brand, "refused").inc()
                raise TokenRefusedError(brand, f"{len(sent)} tokens in a row refused on {path}")
            token = self._tokens.force_refresh(brand, rejected=token)
            if token in sent:
                metrics.UNAUTHORIZED.labels(brand, "refused").inc()
                raise TokenRefusedError(brand, f"no newer token after a 401 on {path}")
            sent.append(token)
            response = self._send(path, token)
        if len(sent) > 1:
            metrics.UNAUTHORIZED.labels(brand, "recovered").inc()
        return response

    def _count_retry(self, path: str) -> Callable[[ReiSyncError], None]:
        endpoint = metrics.endpoint_template(path)

        def count(error: ReiSyncError) -> None:
            metrics.RETRIES.labels(self.brand.key, endpoint, metrics.retry_reason(error)).inc()

        return count

    def _send(self, path: str, token: str) -> requests.Response:
        """GET with redirects followed by hand: at most `MAX_REDIRECTS`, each to the brand's
        own origin (scheme, host, port). Any other hop is an error, never a request."""
        url = f"{self.brand.api_url}/{path}"
        headers = {"Authorization": f"bearer {token}", "Accept": "application/json"}
        endpoint = metrics.endpoint_template(path)
        for _ in range(MAX_REDIRECTS + 1):
            started = monotonic()
            try:
                request = requests.Request("GET", url, headers=headers, auth=_no_auth)
                response = self._session.send(
                    self._session.prepare_request(request),
                    timeout=self._timeout,
                    allow_redirects=False,
                    **self._environment,
                )
            except requests.RequestException as exc:
                metrics.REQUESTS.labels(self.brand.key, endpoint, "error").inc()
                self._observe(None, started)
                raise ApiTransportError(f"{path}: {type(exc).__name__}") from None
            finally:
                metrics.REQUEST_SECONDS.labels(self.brand.key, endpoint).observe(
                    monotonic() - started
                )
            self._observe(response.status_code, started)
            metrics.REQUESTS.labels(
                self.brand.key, endpoint, metrics.status_class(response.status_code)
            ).inc()
            if not response.is_redirect:
                return response
            url = _same_origin(self.brand.api_url, url, response, path)
            response.close()
        raise ApiRedirectError(f"{path}: more than {MAX_REDIRECTS} redirects")

    def _observe(self, status: int | None, started: float) -> None:
        if self._observer is not None:
            self._observer(status, monotonic() - started)


MAX_REDIRECTS = 3
"""Same-origin redirects a read follows (a trailing-slash or casing fix-up); more is a loop."""


def _same_origin(base: str, current: str, response: requests.Response, path: str) -> str:
    """The redirect's target when it stays on `base`'s scheme, host and port, else an error.

    The error names the status and the refused target's origin, never its path or
    query (which a hostile server may have filled with whatever it pleased).
    """
    target = urljoin(current, response.headers.get("Location", ""))
    if _origin(target) != _origin(base):
        shown = "/".join(str(part) for part in _origin(target))
        raise ApiRedirectError(
            f"{path}: HTTP {response.status_code} redirect to another origin ({shown}) refused"
        )
    return target


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or default


POOL_CONNECTIONS = 32
"""Keep-alive connections kept per host at least (requests keeps 10); a client is given
more (`pool_connections`) when its page threads and image cap need more."""


def _environment(session: requests.Session, url: str) -> dict[str, Any]:
    """The proxies and CA settings the environment gives the brand's origin, read once.

    `Session.get` works them out again on every request (`merge_environment_settings`
    walks the proxy variables; about a quarter of the client's CPU per image request in a
    profile); they are fixed for the process, and redirects stay on the same origin.
    """
    return dict(session.merge_environment_settings(url, {}, None, None, None))


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """No `auth`: the bearer token is in the headers. Passed explicitly so that requests
    does not look up ~/.netrc on every request, which would also replace the bearer
    token with Basic credentials for a host named there."""
    return request


def _widen_pool(session: requests.Session, url: str, size: int = POOL_CONNECTIONS) -> None:
    """Give the brand's origin a pool as large as the sync's concurrency.

    With requests' default of 10, the page and image threads of a sync discard and
    reopen connections ("Connection pool is full"). A custom adapter (tests' fakes)
    is left alone.
    """
    adapter = session.get_adapter(url)
    if type(adapter) is not requests.adapters.HTTPAdapter:
        return
    if getattr(adapter, "_pool_maxsize", 0) >= size:
        return
    parts = urlsplit(url)
    session.mount(
        f"{parts.scheme}://{parts.netloc}/",
        requests.adapters.HTTPAdapter(pool_maxsize=size, max_retries=adapter.max_retries),
    )


class PagePath(Protocol):
    @property
    def name(self) -> str: ...

    def path(self, take: int, skip: int) -> str: ...

    def items(self, body: Any) -> list[Any]: ...
