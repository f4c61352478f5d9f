"""Prometheus metrics for API requests, on the default registry.

`endpoint` is the path's template, never the concrete path: every segment that holds a
digit (a listing id, `take`, `skip`) becomes `{n}`, and only the first few segments are
kept, so the label's values are bounded by the client's own code, not by the data.
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Histogram

from worker.errors import ApiDecodeError, ApiStatusError, ApiTransportError, ReiSyncError

REQUESTS = Counter(
    "rei_sync_api_requests",
    "HTTP requests to the REI API (token requests excluded), by endpoint template and status "
    "class (2xx, 4xx, 5xx, or `error` when no answer came).",
    ["brand", "endpoint", "status_class"],
)
REQUEST_SECONDS = Histogram(
    "rei_sync_api_request_duration_seconds",
    "Latency of HTTP requests to the REI API, by endpoint template.",
    ["brand", "endpoint"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RETRIES = Counter(
    "rei_sync_api_retries",
    "Retries of an API call after a retryable failure, by endpoint template and reason.",
    ["brand", "endpoint", "reason"],
)
"""reason: `rate_limited` (429), `server_error` (5xx), `transport` (no answer), `decode`
(a 200 that was not the expected JSON), `other`."""
UNAUTHORIZED = Counter(
    "rei_sync_api_unauthorized",
    "Requests that met a 401, by what followed: `recovered` (a retry with a renewed token "
    "was accepted) or `refused` (the bounded re-authentication gave up on that request).",
    ["brand", "outcome"],
)

MAX_SEGMENTS = 6
_NUMERIC = re.compile(r"\d")


def endpoint_template(path: str) -> str:
    """`GetProperties/take/100/skip/200` → `GetProperties/take/{n}/skip/{n}`."""
    segments = path.split("?", 1)[0].strip("/").split("/")[:MAX_SEGMENTS]
    return "/".join("{n}" if _NUMERIC.search(s) else s for s in segments)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def retry_reason(error: ReiSyncError) -> str:
    if isinstance(error, ApiStatusError):
        if error.status == 429:
            return "rate_limited"
        if error.status >= 500:
            return "server_error"
    if isinstance(error, ApiTransportError):
        return "transport"
    if isinstance(error, ApiDecodeError):
        return "decode"
    return "other"
