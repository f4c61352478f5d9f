"""The shared token store: one encrypted row per brand and credentials, in Postgres.

A renewal runs inside one transaction that first takes
`pg_advisory_xact_lock` for the brand, then re-reads the row. Transaction-
scoped locks are released by COMMIT/ROLLBACK, so this is safe through a
transaction pooler (Supabase, pgbouncer), where session locks are not.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from worker.auth.crypto import TokenCipher
from worker.auth.store import Renewal
from worker.auth.token import Token
from worker.clock import to_datetime
from worker.errors import TokenStoreError

LOCK_TIMEOUT_SECONDS = 60.0
"""How long a renewal waits for another process's renewal (bounded by its HTTP timeout)."""

SET_LOCK_TIMEOUT = sa.text("SELECT set_config('lock_timeout', :timeout, true)")
TAKE_BRAND_LOCK = sa.text("SELECT pg_advisory_xact_lock(:key)")
SELECT_TOKEN = sa.text(
    """
    SELECT token_ciphertext, obtained_at, expires_at, refresh_at
    FROM oauth_tokens
    WHERE brand = :brand AND credentials_fingerprint = :credentials
    """
)
UPSERT_TOKEN = sa.text(
    """
    INSERT INTO oauth_tokens
        (brand, credentials_fingerprint, token_ciphertext, token_fingerprint,
         obtained_at, expires_at, refresh_at, updated_at)
    VALUES
        (:brand, :credentials, :ciphertext, :token_fingerprint,
         :obtained_at, :expires_at, :refresh_at, now())
    ON CONFLICT (brand, credentials_fingerprint) DO UPDATE SET
        token_ciphertext = EXCLUDED.token_ciphertext,
        token_fingerprint = EXCLUDED.token_fingerprint,
        obtained_at = EXCLUDED.obtained_at,
        expires_at = EXCLUDED.expires_at,
        refresh_at = EXCLUDED.refresh_at,
        updated_at = now()
    """
)
DELETE_OLD_CREDENTIALS = sa.text(
    "DELETE FROM oauth_tokens WHERE brand = :brand AND credentials_fingerprint <> :credentials"
)


def brand_lock_key(brand: str) -> int:
    """A signed 64-bit advisory-lock key for the brand, namespaced to token refresh."""
    digest = hashlib.sha256(f"rei-sync:token:{brand}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresTokenStore:
    """Tokens shared by every replica; encrypted with `TOKEN_ENCRYPTION_KEY`."""

    name = "postgres"

    def __init__(
        self,
        engine: sa.Engine,
        cipher: TokenCipher,
        *,
        lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS,
        owns_engine: bool = False,
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._lock_timeout = f"{int(lock_timeout_seconds * 1000)}ms"
        self._owns_engine = owns_engine

    def __repr__(self) -> str:
        return f"PostgresTokenStore({self._engine.url.render_as_string(hide_password=True)})"

    def load(self, brand: str, credentials: str) -> Token | None:
        try:
            with self._engine.connect() as connection:
                row = connection.execute(
                    SELECT_TOKEN, {"brand": brand, "credentials": credentials}
                ).one_or_none()
        except sa.exc.SQLAlchemyError as exc:
            raise TokenStoreError(brand, f"token store read failed: {type(exc).__name__}") from None
        return self._token(row, brand, credentials)

    def renew(self, brand: str, credentials: str, renewal: Renewal) -> Token:
        try:
            with self._engine.begin() as connection:
                connection.execute(SET_LOCK_TIMEOUT, {"timeout": self._lock_timeout})
                connection.execute(TAKE_BRAND_LOCK, {"key": brand_lock_key(brand)})
                row = connection.execute(
                    SELECT_TOKEN, {"brand": brand, "credentials": credentials}
                ).one_or_none()
                current = self._token(row, brand, credentials)
                token = renewal(current)
                if token is not current:
                    connection.execute(
                        self._upsert_params(UPSERT_TOKEN), self._row(token, brand, credentials)
                    )
                    connection.execute(
                        DELETE_OLD_CREDENTIALS, {"brand": brand, "credentials": credentials}
                    )
                return token
        except sa.exc.SQLAlchemyError as exc:
            raise TokenStoreError(
                brand, f"token store renewal failed: {type(exc).__name__}"
            ) from None

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    @staticmethod
    def _upsert_params(statement: sa.TextClause) -> sa.TextClause:
        return statement.bindparams(sa.bindparam("ciphertext", type_=sa.LargeBinary()))

    def _row(self, token: Token, brand: str, credentials: str) -> dict[str, object]:
        return {
            "brand": brand,
            "credentials": credentials,
            "ciphertext": self._cipher.seal(
                token.access_token, brand=brand, credentials=credentials
            ),
            "token_fingerprint": token.fingerprint,
            "obtained_at": to_datetime(token.obtained_at),
            "expires_at": to_datetime(token.expires_at),
            "refresh_at": to_datetime(token.refresh_at),
        }

    def _token(
        self,
        row: sa.Row[Any, Any, Any, Any] | None,
        brand: str,
        credentials: str,
    ) -> Token | None:
        """Decrypt a row; an undecryptable row (key removed, moved row) counts as no token."""
        if row is None:
            return None
        ciphertext, obtained_at, expires_at, refresh_at = row
        access_token = self._cipher.open(bytes(ciphertext), brand=brand, credentials=credentials)
        if access_token is None:
            return None
        return Token(access_token, _epoch(obtained_at), _epoch(expires_at), _epoch(refresh_at))


def _epoch(value: datetime) -> float:
    return value.timestamp()
