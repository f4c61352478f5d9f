"""The HTTP transport under the Supabase client: requests retried with the project's
`RetryPolicy` (full jitter, `Retry-After`, a total time cap), but sent again only when
doing it twice is the same as once (reads, `PATCH`, `DELETE`, upserts with
`resolution=merge-duplicates`) or when the failure proves it was not done (no
connection, 429, 503 with `Retry-After`): a plain insert (a run, a reject) whose answer
is lost may have been committed (see `SupabaseRunLedger.start_run`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
from supabase import Client, ClientOptions, create_client

from worker.clock import Clock, system_clock
from worker.clock import sleep as system_sleep
from worker.errors import SinkError
from worker.retry import (
    DEFAULT_BASE_DELAY_SECONDS,
    DEFAULT_MAX_DELAY_SECONDS,
    DEFAULT_TOTAL_CAP_SECONDS,
    RetryPolicy,
    with_retries,
)
from worker.retry_after import retry_after_seconds

RETRY_ATTEMPTS = 5
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left: sending it again cannot do it twice."""
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 60.0


def may_repeat(request: httpx.Request) -> bool:
    """Whether doing `request` twice is the same as doing it once.

    Reads, `PATCH`es (they set values) and `DELETE`s can be repeated; a `POST` only
    when it is an upsert that merges duplicates. A plain insert cannot: its answer may
    be lost after the server committed it.
    """
    if request.method != "POST":
        return True
    return "resolution=merge-duplicates" in request.headers.get("Prefer", "")


class _FailedAnswer(SinkError):
    """A retryable error status, kept to be returned if it is the last attempt's."""

    retryable = True

    def __init__(
        self, request: httpx.Request, response: httpx.Response, retry_after: float | None
    ) -> None:
        super().__init__(f"HTTP {response.status_code} on {request.url.path}")
        self.response = response
        self.retry_after = retry_after


class _NoAnswer(SinkError):
    """A timeout or a network error, kept to be raised if it is the last attempt's."""

    def __init__(self, request: httpx.Request, error: httpx.HTTPError, retryable: bool) -> None:
        super().__init__(f"{type(error).__name__} on {request.url.path}")
        self.error = error
        self.retryable = retryable


class RetryingTransport(httpx.BaseTransport):
    """Retries a request that failed with 5xx/429, a timeout or a connection error, per
    `RetryPolicy` (`worker/retry.py`: full jitter, `Retry-After`, a total time cap).

    A request that cannot be repeated (`may_repeat`) is retried only when the failure
    proves it was not done: no connection was made (`NOT_SENT`), or the server refused it
    (429, or 503 with `Retry-After`). Any other failure of it is answered as it came.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = system_sleep,
        clock: Clock = system_clock,
    ) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._clock = clock
        """Wall clock (epoch seconds) that a `Retry-After` HTTP-date is counted from."""
        base = policy or RetryPolicy(
            max_attempts=RETRY_ATTEMPTS,
            base_delay_seconds=DEFAULT_BASE_DELAY_SECONDS,
            max_delay_seconds=DEFAULT_MAX_DELAY_SECONDS,
            total_cap_seconds=DEFAULT_TOTAL_CAP_SECONDS,
            sleep=sleep,
        )
        self._policy = dataclasses.replace(base, sleep=self._counted(base.sleep))
        self.retries = 0

    def _counted(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        def counted(seconds: float) -> None:
            self.retries += 1
            sleep(seconds)

        return counted

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a body sent again must be in memory
        repeatable = may_repeat(request)

        def attempt() -> httpx.Response:
            try:
                response = self._inner.handle_request(request)
            except (httpx.TimeoutException, httpx.NetworkError) as exc:
                raise _NoAnswer(request, exc, repeatable or isinstance(exc, NOT_SENT)) from exc
            status = response.status_code
            if status not in RETRY_STATUSES:
                return response
            refused = status == 429 or (status == 503 and "Retry-After" in response.headers)
            if not (repeatable or refused):
                return response
            response.read()  # returned as it is if no retry follows
            response.close()
            retry_after = retry_after_seconds(
                response.headers.get("Retry-After"), now=self._clock()
            )
            raise _FailedAnswer(request, response, retry_after)

        try:
            return with_retries(
                attempt, self._policy, what=f"supabase {request.method}", retry_on=SinkError
            )
        except _FailedAnswer as exc:
            return exc.response
        except _NoAnswer as exc:
            raise exc.error from None

    def close(self) -> None:
        self._inner.close()


def create_supabase_client(
    url: str,
    service_role_key: str,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = system_sleep,
    retry: RetryPolicy | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> Client:
    """A supabase-py client whose PostgREST calls go through `RetryingTransport`
    (with `retry`, or the default policy sleeping with `sleep`)."""
    http = httpx.Client(
        transport=RetryingTransport(transport, policy=retry, sleep=sleep),
        timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT_SECONDS),
        follow_redirects=True,
    )
    options = ClientOptions(
        httpx_client=http, postgrest_client_retry=False, auto_refresh_token=False
    )
    options.persist_session = False
    return create_client(url, service_role_key, options=options)
