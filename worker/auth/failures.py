"""When a brand may next ask the token endpoint after a failure.

Two families, two policies:
- permanent (keys refused): the circuit opens; the cooldown doubles per
  consecutive refusal up to a cap, so a revoked brand costs a few requests an
  hour, not one per API call;
- transient (network, 5xx, 429): exponential backoff with full jitter, so
  replicas recovering from the same outage don't retry in step.
While a gate is closed, callers get a new error describing it at once, with
no I/O; the old token keeps being served by the manager while it is valid.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from worker.errors import AuthError, PermanentAuthError, TransientAuthError

PERMANENT_COOLDOWN_BASE_SECONDS = 60.0
FAILURE_COOLDOWN_MAX_SECONDS = 900.0
TRANSIENT_BACKOFF_BASE_SECONDS = 1.0
TRANSIENT_BACKOFF_MAX_SECONDS = 300.0


@dataclass(frozen=True)
class BackoffPolicy:
    permanent_base_seconds: float = PERMANENT_COOLDOWN_BASE_SECONDS
    permanent_max_seconds: float = FAILURE_COOLDOWN_MAX_SECONDS
    transient_base_seconds: float = TRANSIENT_BACKOFF_BASE_SECONDS
    transient_max_seconds: float = TRANSIENT_BACKOFF_MAX_SECONDS

    def ceiling(self, permanent: bool, failures: int) -> float:
        """The capped exponential delay after `failures` consecutive failures (>= 1)."""
        base = self.permanent_base_seconds if permanent else self.transient_base_seconds
        cap = self.permanent_max_seconds if permanent else self.transient_max_seconds
        return float(min(cap, base * 2.0 ** min(failures - 1, 64)))

    def delay(self, permanent: bool, failures: int, rng: random.Random) -> float:
        """Permanent: the ceiling itself. Transient: full jitter, uniform in [0, ceiling]."""
        ceiling = self.ceiling(permanent, failures)
        return ceiling if permanent else rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class GateState:
    """A snapshot, replaced whole, so readers on other threads never see half an update."""

    failures: int = 0
    permanent: bool = False
    retry_at: float = 0.0
    last_error: str | None = None


class FailureGate:
    """One brand's failure record. Written only by the refresh in flight; read by anyone."""

    def __init__(self, brand: str, policy: BackoffPolicy, rng: random.Random) -> None:
        self._brand = brand
        self._policy = policy
        self._rng = rng
        self.state = GateState()

    @property
    def circuit_open(self) -> bool:
        return self.state.permanent

    def closed_error(self, now: float) -> AuthError | None:
        """A new error to raise if the endpoint may not be asked yet, else None."""
        state = self.state
        if state.failures == 0 or now >= state.retry_at:
            return None
        wait = state.retry_at - now
        if state.permanent:
            return PermanentAuthError(
                self._brand,
                f"keys refused ({state.last_error}); circuit open, next attempt in {wait:.0f}s",
            )
        return TransientAuthError(
            self._brand, f"token endpoint failing ({state.last_error}); next attempt in {wait:.1f}s"
        )

    def record_success(self) -> None:
        if self.state.failures:
            self.state = GateState()

    def record_failure(self, error: AuthError, now: float) -> GateState:
        permanent = isinstance(error, PermanentAuthError)
        previous = self.state
        failures = previous.failures + 1 if previous.permanent == permanent else 1
        delay = self._policy.delay(permanent, failures, self._rng)
        message = str(error).removeprefix(f"{self._brand}: ")
        self.state = GateState(failures, permanent, now + delay, message)
        return self.state
