"""A brand's record in the token manager, and what an operator may see of it."""

from __future__ import annotations

from dataclasses import dataclass

from worker.auth.failures import FailureGate
from worker.auth.token import Token, TokenState, brand_jitter
from worker.config import Brand

REFUSED_TOKENS_KEPT = 16
"""How many of a brand's refused tokens are remembered (never served or adopted again).

A refused token is dead for good; remembering the last few covers requests still in
flight with older ones, and a store or replica that hands an old one back."""


@dataclass(frozen=True)
class TokenStatus:
    """What an operator may see about a brand's token: times and a fingerprint, never the token."""

    brand: str
    state: TokenState
    expires_at: float | None
    refresh_at: float | None
    fingerprint: str | None
    source: str | None
    """`api` if this process requested it, else the store it was read from."""
    store: str
    last_error: str | None
    retry_at: float | None


class BrandSlot:
    """Mutable per-brand record. Written by the brand's flight leader (one at a time)."""

    def __init__(self, brand: Brand, gate: FailureGate) -> None:
        self.brand = brand
        self.credentials = brand.credentials_fingerprint()
        self.jitter = brand_jitter(brand.key)
        self.gate = gate
        self.token: Token | None = None
        self.source: str | None = None
        self.refused: tuple[str, ...] = ()
        """The last `REFUSED_TOKENS_KEPT` tokens the API answered 401 to, oldest first.

        Replaced whole under the manager's install lock, read without it: a token once
        in it is never served, adopted or handed to a caller again."""

    def is_refused(self, access_token: str) -> bool:
        return access_token in self.refused

    def refuse(self, access_token: str) -> None:
        """Remember `access_token` as refused; the caller holds the manager's install lock."""
        if not self.is_refused(access_token):
            self.refused = (*self.refused, access_token)[-REFUSED_TOKENS_KEPT:]

    def status(self, now: float, store: str) -> TokenStatus:
        token = self.token
        gate = self.gate.state
        if gate.permanent:
            state = TokenState.FAILED
        elif token is None:
            state = TokenState.MISSING
        else:
            state = token.state(now)
        return TokenStatus(
            brand=self.brand.key,
            state=state,
            expires_at=token.expires_at if token else None,
            refresh_at=token.refresh_at if token else None,
            fingerprint=token.fingerprint if token else None,
            source=self.source,
            store=store,
            last_error=gate.last_error,
            retry_at=gate.retry_at if gate.failures else None,
        )
