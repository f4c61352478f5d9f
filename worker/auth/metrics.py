"""Prometheus metrics for tokens, on the default registry.

Labels are brand keys and fixed outcome words only: never a key, a token or
an error message.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REFRESHES = Counter(
    "rei_sync_token_refreshes",
    "Token refresh attempts that reached the token endpoint or the store, by outcome.",
    ["brand", "outcome"],
)
"""outcome: `acquired` (new token from the API), `reused` (another process had renewed it),
`permanent_error`, `transient_error`."""

REFRESH_SECONDS = Histogram(
    "rei_sync_token_request_duration_seconds",
    "Latency of token requests to the API.",
    ["brand"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)

EXPIRES_AT = Gauge(
    "rei_sync_token_expiry_timestamp_seconds",
    "When the brand's current token expires (epoch s). No series while the brand has no token.",
    ["brand"],
)
REFRESH_AT = Gauge(
    "rei_sync_token_refresh_timestamp_seconds",
    "When the brand's current token is due for renewal (epoch s; expiry minus the buffer). "
    "Alert when `time()` is well past it: the renewal is late.",
    ["brand"],
)
STATE = Gauge(
    "rei_sync_token_state",
    "1 for the brand's current token state (fresh, stale, expired, missing, failed), else 0.",
    ["brand", "state"],
)

REFRESHES_AVOIDED = Counter(
    "rei_sync_token_refreshes_avoided",
    "Token requests not made because a thread, a process or an earlier 401 already renewed it.",
    ["brand", "reason"],
)
"""reason: `in_flight` (joined this process's refresh), `store` (another process renewed it),
`replaced` (a 401 for a token that had already been replaced)."""

CLOCK_SKEW_SECONDS = Gauge(
    "rei_sync_token_clock_skew_seconds",
    "Server Date header minus local clock at the last token response (1 s resolution).",
    ["brand"],
)

CIRCUIT_OPEN = Gauge(
    "rei_sync_token_circuit_open",
    "1 while a brand's keys are refused and its token circuit is open (alert on this).",
    ["brand"],
)
