"""Tokens at rest: Fernet (AES-128-CBC + HMAC-SHA256) with key rotation.

`TOKEN_ENCRYPTION_KEY` holds one or more Fernet keys, newest first. New rows
are written with the first; every listed key can still read. The plaintext
also names the brand and credentials it belongs to, so a row copied onto
another brand's key does not decrypt into a usable token.

`cryptography` is imported by the functions that use it: a command without
`TOKEN_ENCRYPTION_KEY` (a sync on the memory store) never loads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from worker.errors import ConfigError

KEY_VARIABLE = "TOKEN_ENCRYPTION_KEY"
GEN_KEY_HINT = "create one with `rei-sync token gen-key` and set TOKEN_ENCRYPTION_KEY"

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


def generate_key() -> str:
    """A new random Fernet key (url-safe base64 of 32 bytes)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@dataclass(frozen=True)
class Sealed:
    """What decrypting a stored row gives back."""

    access_token: str = field(repr=False)
    brand: str
    credentials: str


class TokenCipher:
    """Encrypts with the newest key, decrypts with any configured key."""

    def __init__(self, keys: list[str]) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        if not keys:
            raise ConfigError(KEY_VARIABLE, f"is not set: {GEN_KEY_HINT}")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except (ValueError, TypeError):
                raise ConfigError(
                    KEY_VARIABLE, f"key #{position} is not a valid Fernet key: {GEN_KEY_HINT}"
                ) from None
        self._fernet: MultiFernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    @classmethod
    def from_setting(cls, value: str | None) -> TokenCipher:
        """Parse the comma-separated setting; raises `ConfigError` (never echoing a key)."""
        keys = [part for part in (value or "").split(",") if part.strip()]
        return cls(keys)

    def __repr__(self) -> str:
        return f"TokenCipher(keys={self.key_count})"

    def seal(self, access_token: str, *, brand: str, credentials: str) -> bytes:
        payload = json.dumps({"t": access_token, "b": brand, "c": credentials})
        return self._fernet.encrypt(payload.encode())

    def open(self, ciphertext: bytes, *, brand: str, credentials: str) -> str | None:
        """The token, or None when no key fits or the row belongs to other brand/credentials."""
        from cryptography.fernet import InvalidToken

        try:
            payload = json.loads(self._fernet.decrypt(ciphertext))
        except (InvalidToken, ValueError):
            return None
        if not isinstance(payload, dict):
            return None
        sealed = Sealed(str(payload.get("t", "")), str(payload.get("b")), str(payload.get("c")))
        if sealed.brand != brand or sealed.credentials != credentials or not sealed.access_token:
            return None
        return sealed.access_token
