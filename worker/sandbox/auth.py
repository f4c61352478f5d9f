"""Brand keys and bearer tokens, as the vendor's OWIN OAuth server hands them out.

Keys are derived from the seed, so a restarted sandbox with the same seed
accepts the same `.env`. Tokens are opaque random strings that live until
their own expiry (by the sandbox clock) or a revocation; issuing a new one
never invalidates an older one.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass

from worker.sandbox.clock import SandboxClock

TOKEN_BYTES = 225
"""`token_urlsafe(225)` is 300 characters, the length seen on the live server."""


@dataclass(frozen=True)
class BrandKeys:
    brand: str
    api_key: str
    secret_key: str
    integrator_id: str

    @classmethod
    def derive(cls, seed: int, brand: str) -> BrandKeys:
        def part(name: str) -> bytes:
            return hashlib.sha256(f"rei-sandbox:{seed}:{brand}:{name}".encode()).digest()

        return cls(
            brand=brand,
            api_key=str(uuid.UUID(bytes=part("apikey")[:16])),
            secret_key=part("secretkey").hex()[:40],
            integrator_id=str(uuid.UUID(bytes=part("integratorID")[:16])).upper(),
        )


@dataclass(frozen=True)
class IssuedToken:
    brand: str
    expires_at: float


class TokenIssuer:
    """Checks keys, issues tokens and answers "is this bearer token good now?"."""

    def __init__(self, keys: list[BrandKeys], ttl_seconds: int, clock: SandboxClock) -> None:
        self.keys = {k.brand: k for k in keys}
        self._by_api_key = {k.api_key: k for k in keys}
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, IssuedToken] = {}
        self._uses: dict[str, int] = {}
        """Authenticated requests each token has answered (for `token_max_requests`)."""
        self.spent: dict[str, int] = {}
        """Per brand: tokens revoked because they had answered `token_max_requests`."""
        self._revoked_keys: set[str] = set()

    def brand_of_api_key(self, api_key: str | None) -> str | None:
        found = self._by_api_key.get(api_key or "")
        return found.brand if found else None

    def check_keys(self, api_key: str, secret_key: str, integrator_id: str) -> str | None:
        """The brand whose three keys these are (and not revoked), else None."""
        found = self._by_api_key.get(api_key)
        if found is None or found.brand in self._revoked_keys:
            return None
        if not secrets.compare_digest(found.secret_key, secret_key):
            return None
        if not secrets.compare_digest(found.integrator_id, integrator_id):
            return None
        return found.brand

    def issue(self, brand: str) -> str:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._lock:
            now = self._clock.now()
            self._tokens = {t: i for t, i in self._tokens.items() if i.expires_at > now}
            self._uses = {t: n for t, n in self._uses.items() if t in self._tokens}
            self._tokens[token] = IssuedToken(brand, now + self.ttl_seconds)
        return token

    def brand_of_token(self, token: str) -> str | None:
        """The brand a still-valid token belongs to, else None (unknown, expired, revoked)."""
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None or issued.expires_at <= self._clock.now():
            return None
        return issued.brand

    def authorize(self, token: str, max_requests: int = 0) -> str | None:
        """`brand_of_token`, counting the request: with `max_requests` > 0, a token that
        has answered that many is revoked instead (a server that revokes tokens often)."""
        with self._lock:
            issued = self._tokens.get(token)
            if issued is None or issued.expires_at <= self._clock.now():
                return None
            if max_requests > 0:
                used = self._uses.get(token, 0)
                if used >= max_requests:
                    del self._tokens[token]
                    self._uses.pop(token, None)
                    self.spent[issued.brand] = self.spent.get(issued.brand, 0) + 1
                    return None
                self._uses[token] = used + 1
            return issued.brand

    def revoke_tokens(self, brand: str | None = None) -> int:
        with self._lock:
            doomed = [t for t, i in self._tokens.items() if brand is None or i.brand == brand]
            for token in doomed:
                del self._tokens[token]
        return len(doomed)

    def set_keys_revoked(self, brand: str, revoked: bool) -> None:
        with self._lock:
            if revoked:
                self._revoked_keys.add(brand)
            else:
                self._revoked_keys.discard(brand)
