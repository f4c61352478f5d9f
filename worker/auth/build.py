"""From `Settings` to a `TokenManager`: the store, the cipher, the knobs.

Settings that `worker.config.Settings` does not declare (yet) fall back to the
defaults here, so this module works with older and newer Settings alike.
"""

from __future__ import annotations

from typing import Literal

import requests
import sqlalchemy as sa

from worker.auth.crypto import KEY_VARIABLE, TokenCipher
from worker.auth.failures import (
    FAILURE_COOLDOWN_MAX_SECONDS,
    PERMANENT_COOLDOWN_BASE_SECONDS,
    BackoffPolicy,
)
from worker.auth.manager import TOKEN_CLOCK_SKEW_SECONDS, TokenManager
from worker.auth.postgres import PostgresTokenStore
from worker.auth.store import MemoryTokenStore, TokenStore
from worker.config import Settings
from worker.errors import ConfigError
from worker.log import get_logger

log = get_logger(__name__)

StoreChoice = Literal["auto", "postgres", "memory"]


def _number(settings: Settings, name: str, default: float) -> float:
    value = getattr(settings, name, None)
    return float(value) if isinstance(value, int | float) else default


def encryption_key(settings: Settings) -> str | None:
    secret = getattr(settings, "token_encryption_key", None)
    return secret.get_secret_value() if secret is not None else None


def backoff_policy(settings: Settings) -> BackoffPolicy:
    return BackoffPolicy(
        permanent_base_seconds=_number(
            settings, "token_failure_cooldown_seconds", PERMANENT_COOLDOWN_BASE_SECONDS
        ),
        permanent_max_seconds=_number(
            settings, "token_failure_cooldown_max_seconds", FAILURE_COOLDOWN_MAX_SECONDS
        ),
    )


def build_token_store(
    settings: Settings, engine: sa.Engine | None, choice: StoreChoice = "auto"
) -> TokenStore:
    """`postgres` needs an engine and `TOKEN_ENCRYPTION_KEY`; `auto` uses it when both exist."""
    key = encryption_key(settings)
    if choice == "memory" or (choice == "auto" and (key is None or engine is None)):
        if choice == "auto" and engine is not None:
            log.warning(
                "tokens.memory_store",
                reason=f"{KEY_VARIABLE} is not set: tokens are not shared between processes "
                "(create one with `rei-sync token gen-key`)",
            )
        return MemoryTokenStore()
    if engine is None:
        raise ConfigError("DATABASE_URL", "the postgres token store needs a database")
    return PostgresTokenStore(engine, TokenCipher.from_setting(key))


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
        skew_seconds=_number(settings, "token_clock_skew_seconds", TOKEN_CLOCK_SKEW_SECONDS),
        backoff=backoff_policy(settings),
    )


__all__ = ["KEY_VARIABLE", "build_token_manager", "build_token_store", "encryption_key"]
