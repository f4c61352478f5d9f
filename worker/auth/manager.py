"""`TokenManager`: every brand holds a valid token, across threads and replicas.

The three paths of `get_valid_token`, by the token's state:
- FRESH: a dict read and a clock read; no lock, no I/O.
- STALE: the cached token at once, and one background refresh for the brand.
- EXPIRED / MISSING: block on the brand's single in-flight refresh.

A refresh goes through the store's `renew`, which holds the brand's lock
(an advisory lock in Postgres) and re-reads the stored token first: if
another process already renewed it, that token is used and the API is not
called. Failures go to the brand's `FailureGate` (circuit for refused keys,
backoff with jitter for outages); a still-valid token keeps being served.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterable

import requests

from worker.auth import metrics
from worker.auth.acquire import TokenAcquirer
from worker.auth.endpoint import (
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    HttpTokenRequester,
    TokenRequester,
)
from worker.auth.failures import BackoffPolicy, FailureGate
from worker.auth.flight import WAIT_TIMEOUT_SECONDS, SingleFlight
from worker.auth.refresher import BackgroundRefresher
from worker.auth.slot import REFUSED_TOKENS_KEPT, BrandSlot, TokenStatus
from worker.auth.store import MemoryTokenStore, TokenStore
from worker.auth.token import Token, TokenState
from worker.clock import Clock, system_clock
from worker.config import Brand
from worker.errors import (
    AuthError,
    ConfigError,
    PermanentAuthError,
    TokenStoreError,
    TransientAuthError,
)
from worker.log import get_logger, redactor

__all__ = [
    "REFRESH_BUFFER_SECONDS",
    "REFUSED_TOKENS_KEPT",
    "TOKEN_CLOCK_SKEW_SECONDS",
    "TokenListener",
    "TokenManager",
    "TokenStatus",
]

REFRESH_BUFFER_SECONDS = 30 * 60.0
TOKEN_CLOCK_SKEW_SECONDS = 30.0

TokenListener = Callable[[str, Token], None]
"""Called with (brand, token) whenever a brand's token changes, e.g. to re-arm its scheduler job."""

log = get_logger(__name__)


class TokenManager:
    """Tokens for a fixed set of brands; safe to share across threads.

    `requester` is the seam to the token endpoint (tests inject fakes); when it
    is not given, an `HttpTokenRequester` is built from `session` and `timeout`
    (connect, read seconds).
    """

    def __init__(
        self,
        brands: Iterable[Brand],
        *,
        store: TokenStore | None = None,
        requester: TokenRequester | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] | None = None,
        clock: Clock = system_clock,
        buffer_seconds: float = REFRESH_BUFFER_SECONDS,
        skew_seconds: float = TOKEN_CLOCK_SKEW_SECONDS,
        backoff: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        wait_timeout_seconds: float = WAIT_TIMEOUT_SECONDS,
    ) -> None:
        policy = backoff or BackoffPolicy()
        chance = rng or random.Random()
        self._slots = {b.key: BrandSlot(b, FailureGate(b.key, policy, chance)) for b in brands}
        self._store: TokenStore = store if store is not None else MemoryTokenStore()
        self._owned_requester: HttpTokenRequester | None = None
        """Built here with its own Session (none was given): closed by `close`."""
        if requester is None:
            connect, read = timeout or (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
            requester = HttpTokenRequester(
                session, connect_timeout_seconds=connect, read_timeout_seconds=read
            )
            if session is None:
                self._owned_requester = requester
        self._acquirer = TokenAcquirer(
            requester, clock, buffer_seconds=buffer_seconds, skew_seconds=skew_seconds
        )
        self._clock = clock
        self._serving: dict[str, Token] = {}
        """Read lock-free by the hot path; replaced under `_install_lock`."""
        self._install_lock = threading.Lock()
        self._flights = SingleFlight(wait_timeout_seconds=wait_timeout_seconds)
        self._background = BackgroundRefresher(self._flights)
        self._listeners: list[TokenListener] = []
        for brand in self._slots.values():
            redactor.register(brand.brand.secret_values())
            for state in TokenState:
                metrics.STATE.labels(brand.brand.key, state.value).set_function(
                    self._is_in_state(brand, state)
                )
            metrics.CIRCUIT_OPEN.labels(brand.brand.key).set(0)
            for gauge in (metrics.EXPIRES_AT, metrics.REFRESH_AT):
                with contextlib.suppress(KeyError):  # no token yet: no series, no alert
                    gauge.remove(brand.brand.key)

    def __repr__(self) -> str:
        return f"TokenManager(brands={list(self._slots)}, store={self._store.name})"

    @property
    def brands(self) -> tuple[str, ...]:
        return tuple(self._slots)

    @property
    def store_name(self) -> str:
        return self._store.name

    # -- the public API -------------------------------------------------------------------

    def get_valid_token(self, brand: str) -> str:
        """A token for `brand` that is valid now. The FRESH path takes no lock and does no I/O."""
        token = self._serving.get(brand)
        if token is not None and self._clock() < token.refresh_at:
            return token.access_token
        return self._get_slow(brand)

    def force_refresh(self, brand: str, rejected: str | None = None) -> str:
        """After a 401 for `rejected`: mark it refused, return a token never refused.

        If the current token is neither `rejected` nor any other refused token (another
        thread or process renewed it), it is returned without a request; else callers
        share one refresh (single flight). Without `rejected`, a new token is always
        requested (the `token refresh` command).
        """
        slot = self._slot(brand)
        if rejected is None:
            return self._flights.run(
                brand,
                lambda: self._refresh(slot, force=True),
                on_join=self._count_joined(brand),
            ).access_token
        self._reject(slot, rejected)
        current = slot.token
        if (
            current is not None
            and not slot.is_refused(current.access_token)
            and current.state(self._clock()) is not TokenState.EXPIRED
        ):
            metrics.REFRESHES_AVOIDED.labels(brand, "replaced").inc()
            with self._install_lock:
                if brand not in self._serving and slot.token is current:
                    # the refused token was on the fast path: put the slot's current one back
                    self._serving[brand] = current
            return current.access_token
        return self._flights.run(
            brand,
            lambda: self._refresh(slot, force=False),
            accept=lambda token: not slot.is_refused(token.access_token),
            on_join=self._count_joined(brand),
        ).access_token

    def mark_refused(self, brand: str, refused: str) -> None:
        """The API answered 401 to `refused` and no new token is wanted now (the request
        gave up): no caller is handed it again; the next one waits for a new token."""
        self._reject(self._slot(brand), refused)

    def needs_refresh(self, brand: str) -> bool:
        """True unless the brand's token is FRESH."""
        slot = self._slot(brand)
        token = slot.token
        return (
            token is None
            or slot.is_refused(token.access_token)
            or token.state(self._clock()) is not TokenState.FRESH
        )

    def status(self) -> list[TokenStatus]:
        now = self._clock()
        return [slot.status(now, self._store.name) for slot in self._slots.values()]

    # -- for the scheduler, the CLI and shutdown ------------------------------------------

    def add_listener(self, listener: TokenListener) -> None:
        self._listeners.append(listener)

    def next_refresh_at(self, brand: str) -> float:
        """When the brand should next be renewed: its `refresh_at`, or its gate's retry time."""
        slot = self._slot(brand)
        gate = slot.gate.state
        now = self._clock()
        if gate.failures and gate.retry_at > now:
            return gate.retry_at
        token = slot.token
        if token is None or slot.is_refused(token.access_token):
            return max(now, gate.retry_at)  # the API refused it: renew as soon as allowed
        return token.refresh_at

    def refresh_if_due(self, brand: str) -> Token | None:
        """Renew now if the token is not FRESH and the gate allows; the scheduler's job body.

        Failures are recorded (gate, metrics, log) and not raised: the job must
        not crash the scheduler, and `status()` shows them.
        """
        slot = self._slot(brand)
        if not self.needs_refresh(brand) or slot.gate.closed_error(self._clock()) is not None:
            return None
        try:
            self._flights.run(
                brand,
                lambda: self._refresh(slot, force=False),
                on_join=self._count_joined(brand),
            )
        except AuthError:
            return None
        return slot.token

    def preload(self) -> None:
        """Adopt tokens other processes stored (for `token status` and at start-up)."""
        for slot in self._slots.values():
            if slot.token is None:
                self._adopt_stored(slot)

    def wait_for_background(self, timeout: float = 30.0) -> bool:
        """Join the background refreshes running now (tests, orderly shutdown)."""
        return self._background.join(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Refuse new background refreshes, join the running ones, release the store."""
        self._background.close(timeout)
        self._store.close()
        if self._owned_requester is not None:
            self._owned_requester.close()

    def __enter__(self) -> TokenManager:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _slot(self, brand: str) -> BrandSlot:
        slot = self._slots.get(brand)
        if slot is None:
            known = ", ".join(self._slots) or "none"
            raise ConfigError("REI_BRANDS", f"unknown brand {brand!r} (configured: {known})")
        return slot

    def _get_slow(self, brand: str) -> str:
        slot = self._slot(brand)
        now = self._clock()
        token = slot.token
        if token is None or slot.is_refused(token.access_token):
            token = self._adopt_stored(slot)
        if token is not None:
            state = token.state(now)
            if state is TokenState.FRESH:
                self._serve(slot, token)
                return token.access_token
            if state is TokenState.STALE:
                self._refresh_in_background(slot, now)
                return token.access_token
        closed = slot.gate.closed_error(now)
        if closed is not None:
            raise closed
        return self._flights.run(
            brand,
            lambda: self._refresh(slot, force=False),
            on_join=self._count_joined(brand),
        ).access_token

    def _refresh_in_background(self, slot: BrandSlot, now: float) -> None:
        brand = slot.brand.key
        if self._flights.in_flight(brand) or slot.gate.closed_error(now) is not None:
            return
        self._background.start(brand, lambda: self._refresh(slot, force=False))

    def _refresh(self, slot: BrandSlot, *, force: bool) -> Token:
        """The flight leader's work: renew through the store, record the outcome.

        A stored token is used instead of a request only if it is FRESH and was never
        refused; `force` always asks the endpoint."""
        brand = slot.brand.key
        closed = slot.gate.closed_error(self._clock())
        if closed is not None:
            raise closed
        acquired: list[Token] = []

        def renewal(stored: Token | None) -> Token:
            if (
                not force
                and stored is not None
                and not slot.is_refused(stored.access_token)
                and stored.state(self._clock()) is TokenState.FRESH
            ):
                return stored
            acquired.append(self._acquirer.acquire(slot.brand, slot.jitter))
            return acquired[-1]

        try:
            token = self._store.renew(brand, slot.credentials, renewal)
        except Exception as exc:
            if not acquired:
                error = (
                    exc
                    if isinstance(exc, AuthError)
                    else TransientAuthError(brand, f"token refresh crashed: {type(exc).__name__}")
                )
                self._record_failure(slot, error)
                if error is exc:
                    raise
                raise error from exc
            # The endpoint answered; only storing the token failed. Keep it in this process
            # (other replicas will renew their own) rather than throw a valid token away.
            token = acquired[-1]
            log.warning(
                "token.store_write_failed",
                brand=brand,
                fingerprint=token.fingerprint,
                store=self._store.name,
                error=str(exc) if isinstance(exc, AuthError) else type(exc).__name__,
            )
        if slot.gate.circuit_open:
            metrics.CIRCUIT_OPEN.labels(brand).set(0)
            log.info("token.circuit_closed", brand=brand)
        slot.gate.record_success()
        if acquired and token is acquired[-1]:
            metrics.REFRESHES.labels(brand, "acquired").inc()
            self._install(slot, token, "api")
        else:
            metrics.REFRESHES.labels(brand, "reused").inc()
            metrics.REFRESHES_AVOIDED.labels(brand, "store").inc()
            log.info(
                "token.reused", brand=brand, fingerprint=token.fingerprint, store=self._store.name
            )
            self._install(slot, token, self._store.name)
        return token

    def _record_failure(self, slot: BrandSlot, error: AuthError) -> None:
        brand = slot.brand.key
        state = slot.gate.record_failure(error, self._clock())
        token = slot.token
        serving = (
            token is not None
            and not slot.is_refused(token.access_token)
            and token.state(self._clock()) is not TokenState.EXPIRED
        )
        fields = {
            "brand": brand,
            "error": state.last_error,
            "failures": state.failures,
            "retry_in": round(state.retry_at - self._clock(), 1),
            "still_serving_valid_token": serving,
        }
        if isinstance(error, PermanentAuthError):
            metrics.REFRESHES.labels(brand, "permanent_error").inc()
            metrics.CIRCUIT_OPEN.labels(brand).set(1)
            log.critical("token.keys_refused", alert=True, **fields)
        else:
            metrics.REFRESHES.labels(brand, "transient_error").inc()
            source = "store" if isinstance(error, TokenStoreError) else "endpoint"
            log.warning("token.refresh_failed", source=source, **fields)

    def _adopt_stored(self, slot: BrandSlot) -> Token | None:
        """A lock-free read of the store: another process may already hold a valid token."""
        try:
            stored = self._store.load(slot.brand.key, slot.credentials)
        except TokenStoreError as exc:
            log.warning("token.store_unavailable", brand=slot.brand.key, error=str(exc))
            return None
        if (
            stored is None
            or slot.is_refused(stored.access_token)
            or stored.state(self._clock()) is TokenState.EXPIRED
        ):
            return None
        self._install(slot, stored, self._store.name)
        return stored

    def _install(self, slot: BrandSlot, token: Token, source: str) -> None:
        brand = slot.brand.key
        changed = slot.token is not token
        # Every token this process may send passes here, whoever obtained it: register it once.
        redactor.register([token.access_token], group=f"token:{brand}")
        with self._install_lock:
            slot.token = token
            slot.source = source
            self._serving[brand] = token
        metrics.EXPIRES_AT.labels(brand).set(token.expires_at)
        metrics.REFRESH_AT.labels(brand).set(token.refresh_at)
        if changed:
            for listener in list(self._listeners):
                try:
                    listener(brand, token)
                except Exception:
                    log.exception("token.listener_failed", brand=brand)

    def _serve(self, slot: BrandSlot, token: Token) -> None:
        """Put `token` on the lock-free path, only if it is still the slot's and not refused.

        A compare-and-set: between reading `slot.token` and getting here, another thread
        may have rejected it and installed a successor, which must not be overwritten.
        """
        with self._install_lock:
            if slot.token is token and not slot.is_refused(token.access_token):
                self._serving[slot.brand.key] = token

    def _reject(self, slot: BrandSlot, rejected: str) -> None:
        """Stop serving a token the API refused, so no other caller sends it again."""
        with self._install_lock:
            slot.refuse(rejected)
            serving = self._serving.get(slot.brand.key)
            if serving is not None and serving.access_token == rejected:
                del self._serving[slot.brand.key]

    def _count_joined(self, brand: str) -> Callable[[], None]:
        return metrics.REFRESHES_AVOIDED.labels(brand, "in_flight").inc

    def _is_in_state(self, slot: BrandSlot, state: TokenState) -> Callable[[], float]:
        def value() -> float:
            return 1.0 if slot.status(self._clock(), self._store.name).state is state else 0.0

        return value
