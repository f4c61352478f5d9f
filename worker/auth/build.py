"""From `Settings` to a `TokenManager`: the store, the cipher, the knobs."""

from __future__ import annotations

from typing import Literal

import requests
import sqlalchemy as sa

from worker.auth.crypto import GEN_KEY_HINT, KEY_VARIABLE, TokenCipher
from worker.auth.failures import BackoffPolicy
from worker.auth.manager import TokenManager
from worker.auth.postgres import PostgresTokenStore
from worker.auth.store import MemoryTokenStore, TokenStore
from worker.config import Settings
from worker.errors import ConfigError
from worker.log import get_logger

log = get_logger(__name__)

StoreChoice = Literal["auto", "postgres", "memory"]


def encryption_key(settings: Settings) -> str | None:
    secret = settings.token_encryption_key
    return secret.get_secret_value() if secret is not None else None


def backoff_policy(settings: Settings) -> BackoffPolicy:
    return BackoffPolicy(
        permanent_base_seconds=settings.token_failure_cooldown_seconds,
        permanent_max_seconds=settings.token_failure_cooldown_max_seconds,
    )


def build_token_store(
    settings: Settings, engine: sa.Engine | None, choice: StoreChoice = "auto"
) -> TokenStore:
    """`postgres` needs an engine and `TOKEN_ENCRYPTION_KEY`; `auto` uses it when both exist."""
    key = encryption_key(settings)
    if choice == "memory" or (choice == "auto" and (key is None or engine is None)):
        if choice == "auto" and engine is not None:
            log.info(
                "tokens.store",
                store="memory",
                reason=f"{KEY_VARIABLE} is not set: this process's tokens are not shared "
                "(create one with `rei-sync token gen-key`)",
            )
        return MemoryTokenStore()
    if engine is None:
        raise ConfigError("DATABASE_URL", "the postgres token store needs a database")
    store = PostgresTokenStore(engine, TokenCipher.from_setting(key))
    if choice == "auto":
        log.info("tokens.store", store="postgres", reason=f"{KEY_VARIABLE} is set")
    return store


def require_shared_store(settings: Settings) -> None:
    """The daemon shares tokens between replicas through the encrypted store: it needs a key."""
    if encryption_key(settings) is None:
        raise ConfigError(
            KEY_VARIABLE,
            "is not set: `rei-sync run` keeps tokens in the shared encrypted store, so every "
            f"replica makes one token request per brand; {GEN_KEY_HINT}",
        )


def build_token_manager(
    settings: Settings,
    *,
    store: TokenStore | None = None,
    session: requests.Session | None = None,
) -> TokenManager:
    return TokenManager(
        settings.brands,
        store=store,
        session=session,
        timeout=(settings.rei_connect_timeout_seconds, settings.rei_read_timeout_seconds),
        buffer_seconds=settings.token_refresh_buffer_minutes * 60.0,
        skew_seconds=settings.token_clock_skew_seconds,
        backoff=backoff_policy(settings),
    )


__all__ = [
    "KEY_VARIABLE",
    "build_token_manager",
    "build_token_store",
    "encryption_key",
    "require_shared_store",
]
