"""One request to the token endpoint, made into a `Token` whose renewal is planned."""

from __future__ import annotations

import dataclasses

from worker.auth import metrics
from worker.auth.endpoint import TokenRequester
from worker.auth.token import Token, TokenState, plan_token
from worker.clock import Clock
from worker.config import Brand
from worker.errors import AuthError, TransientAuthError
from worker.log import get_logger

log = get_logger(__name__)


class TokenAcquirer:
    """Asks `requester` for a brand's token, timed by `clock`, and plans when to renew it
    (`plan_token`: `buffer_seconds` before expiry, less `skew_seconds` and the jitter)."""

    def __init__(
        self,
        requester: TokenRequester,
        clock: Clock,
        *,
        buffer_seconds: float,
        skew_seconds: float,
    ) -> None:
        self._requester = requester
        self._clock = clock
        self._buffer_seconds = buffer_seconds
        self._skew_seconds = skew_seconds

    def acquire(self, brand: Brand, jitter: float) -> Token:
        """One request to the token endpoint; called inside the store's lock."""
        key = brand.key
        sent_at = self._clock()
        try:
            response = self._requester(brand)
        except AuthError:
            raise
        except Exception as exc:
            # An injected requester broke its contract: translate here, keep the type for the log.
            log.error("token.requester_crashed", brand=key, error_type=type(exc).__name__)
            raise TransientAuthError(key, f"token request failed: {type(exc).__name__}") from None
        received_at = self._clock()
        metrics.REFRESH_SECONDS.labels(key).observe(max(0.0, received_at - sent_at))
        if response.server_date is not None:
            self._observe_skew(key, response.server_date - received_at)
        token = plan_token(
            response.access_token,
            sent_at=sent_at,
            expires_in=response.expires_in,
            buffer_seconds=self._buffer_seconds,
            skew_seconds=self._skew_seconds,
            jitter=jitter,
        )
        if token.state(received_at) is TokenState.EXPIRED:
            # The answer took longer than the token lives: retrying at once would loop.
            raise TransientAuthError(key, "token endpoint slower than the token lifetime")
        # `refresh_at` counts from `sent_at`; with a slow endpoint it may already have passed.
        # Use at least half of the life the token has left when it arrives, so no latency can
        # make every call renew.
        floor = received_at + (token.expires_at - received_at) / 2
        if token.refresh_at < floor:
            token = dataclasses.replace(token, refresh_at=floor)
        log.info(
            "token.acquired",
            brand=key,
            fingerprint=token.fingerprint,
            expires_in=response.expires_in,
            refresh_in=round(token.refresh_at - received_at, 1),
        )
        return token

    def _observe_skew(self, brand: str, skew: float) -> None:
        metrics.CLOCK_SKEW_SECONDS.labels(brand).set(skew)
        # The Date header has 1 s resolution: allow that much before calling it skew.
        if abs(skew) > self._skew_seconds + 1.0:
            log.warning(
                "token.clock_skew",
                brand=brand,
                skew_seconds=round(skew, 1),
                margin_seconds=self._skew_seconds,
            )
