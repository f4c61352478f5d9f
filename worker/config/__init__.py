"""Settings from the environment and `.env`, and brand discovery from `REMAX_<BRAND>_*`.

Both read one merged view (`.env` overlaid by the process environment), so the
settings and the brands can never disagree about where a value came from.
Every problem becomes a `ConfigError` naming the variable, and all of them are
reported at once (`ConfigErrors`); values are never echoed, because some of them
are secrets. `DATABASE_URL` is parsed here, once, so a password holding `@` or `#`
can never be mistaken for a host name further down.

This module is the public face; the work is done by `worker.config.discovery` (brands
and webhooks), `worker.config.urls` (API URLs and `DATABASE_URL`) and
`worker.config.problems` (pydantic's errors, unknown variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url

from worker.config.discovery import (
    BRAND_PARTS,
    BRAND_VAR,
    WEBHOOK_PARTS,
    WEBHOOK_VAR,
    Brand,
    Webhook,
    collect_brands,
    discover_brands,
    discover_webhooks,
)
from worker.config.problems import NOT_SETTINGS, OUR_PREFIXES, misspelt_variables, validation_errors
from worker.config.urls import (
    DATABASE_SCHEMES,
    is_loopback,
    normalise_database_url,
    validate_api_url,
)
from worker.errors import ConfigError, ConfigErrors

__all__ = [
    "BRAND_PARTS",
    "BRAND_VAR",
    "DATABASE_SCHEMES",
    "DEFAULT_ENV_FILE",
    "DISCOVERED",
    "NOT_SETTINGS",
    "OUR_PREFIXES",
    "WEBHOOK_PARTS",
    "WEBHOOK_VAR",
    "Brand",
    "Settings",
    "Source",
    "Webhook",
    "collect_brands",
    "database_errors",
    "discover_brands",
    "discover_webhooks",
    "is_loopback",
    "load_settings",
    "normalise_database_url",
    "read_environment",
    "read_sources",
    "setting_variables",
    "unknown_variables",
    "validate_api_url",
]

DEFAULT_ENV_FILE = Path(".env")
DISCOVERED = ("brands", "webhooks")
"""Settings fields built from groups of variables, not read from one variable of that name."""


class Settings(BaseSettings):
    """Process-wide settings. Field `foo_bar` is read from variable `FOO_BAR`."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    token_refresh_buffer_minutes: int = Field(default=30, ge=0)
    database_url: SecretStr | None = None
    database_pooler: Literal["transaction", "session", "none"] | None = None
    """`transaction` behind a transaction pooler (pgbouncer, Supabase :6543); unset: by port."""
    supabase_url: str | None = None
    """Supabase project URL for the REST sink (used only when DATABASE_URL is unset)."""
    supabase_service_role_key: SecretStr | None = None
    rei_brands: str | None = None
    rei_sync_home: Path = Path(".rei-sync")
    rei_page_size: int = Field(default=100, ge=1, le=10_000)
    rei_sync_parallelism: int = Field(default=4, ge=1, le=32)
    """Concurrent page and delisting-check requests per sync run (images have their own pool)."""
    rei_image_concurrency_max: int = Field(default=32, ge=1, le=256)
    """Most image requests one sync run has in flight: the adaptive limit starts at 12,
    grows while answers are fast and clean, halves on 429/503/timeouts, never above this."""
    rei_sync_window_mb: int = Field(default=4, ge=1, le=1024)
    """Most MB of rows (their raw documents as JSON) a listing scan holds while their images
    are fetched, besides the newest batch: what bounds a cold sync's memory."""
    rei_max_concurrent_syncs: int = Field(default=0, ge=0, le=256)
    """Sync runs one daemon runs at once, whatever the number of brands; 0: the size of the
    database pool (5), so every running sync has a connection without queueing for one."""
    rei_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    rei_read_timeout_seconds: float = Field(default=30.0, gt=0)
    rei_allow_insecure_http: bool = False
    rei_embedded_db: bool = False
    """Without `DATABASE_URL`: run an embedded Postgres in `REI_SYNC_HOME` (asked for, never
    implied: its data lives in that folder and is gone with a container's file system)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    # The daemon (`rei-sync run`). A schedule is an interval (`90s`, `15m`, `1h`, `1d`)
    # or a five-field cron expression (`0 3 * * *`); `off` disables the job.
    sync_properties_schedule: str = "15m"
    sync_associates_schedule: str = "1h"
    sync_lookups_schedule: str = "1d"
    sync_geo_schedule: str = "1d"
    sync_images_full_schedule: str = "1d"
    sync_jitter_seconds: float = Field(default=30.0, ge=0)
    sync_misfire_grace_seconds: float = Field(default=300.0, gt=0)
    run_at_start: bool = False
    shutdown_grace_seconds: float = Field(default=25.0, gt=0)
    lease_ttl_seconds: float = Field(default=60.0, gt=0)
    health_bind: str = "0.0.0.0"  # noqa: S104 - the container's port must be reachable
    health_port: int = Field(default=9108, ge=0, le=65535)
    alert_webhook_url: SecretStr | None = None
    alert_min_interval_seconds: float = Field(default=900.0, ge=0)
    token_failure_cooldown_seconds: float = Field(default=60.0, gt=0)
    """First wait before retrying a brand whose keys were refused (doubles up to the max)."""
    token_failure_cooldown_max_seconds: float = Field(default=900.0, gt=0)
    token_clock_skew_seconds: float = Field(default=30.0, ge=0)
    """Subtracted from every token's expiry, for clock differences with the API."""
    token_encryption_key: SecretStr | None = None
    """Fernet key(s) for the shared token store in Postgres (`rei-sync run` needs one)."""

    # The change feed (docs/CHANGE_FEED.md). Subscribers: REI_WEBHOOK_<NAME>_URL / _SECRET.
    webhook_batch_size: int = Field(default=100, ge=1, le=10_000)
    webhook_max_failures: int = Field(default=10, ge=1)
    """Consecutive failed deliveries after which a subscriber is paused."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_poll_seconds: float = Field(default=30.0, gt=0)
    """How often the daemon looks for events other processes wrote (its own wake it at once)."""
    retention_days: int = Field(default=90, ge=1)
    """`sync_events` and `sync_rejects` rows older than this are pruned by a daily job."""

    brands: tuple[Brand, ...] = ()
    webhooks: tuple[Webhook, ...] = ()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", "database_pooler", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `load_settings` merges env and .env itself (brand discovery needs the same view).
        return (init_settings,)

    def brand(self, key: str) -> Brand:
        for brand in self.brands:
            if brand.key == key.upper():
                return brand
        known = ", ".join(b.key for b in self.brands) or "none"
        raise ConfigError("--brand", f"unknown brand {key!r} (configured: {known})")

    @property
    def uses_embedded_db(self) -> bool:
        """The local embedded Postgres: asked for with `REI_EMBEDDED_DB=1`, or the local
        store of leases and tokens in REST mode (documented in the README)."""
        return self.database_url is None and (self.rei_embedded_db or self.uses_supabase_rest)

    @property
    def uses_supabase_rest(self) -> bool:
        """The REST sink: a Supabase URL and service-role key, and no `DATABASE_URL`."""
        return (
            self.database_url is None
            and bool(self.supabase_url)
            and self.supabase_service_role_key is not None
        )

    def secret_values(self) -> tuple[str, ...]:
        """Every configured secret, for the log redactor."""
        values: list[str] = []
        for brand in self.brands:
            values.extend(brand.secret_values())
        if self.database_url is not None:
            password = make_url(self.database_url.get_secret_value()).password
            if password:
                values.extend((str(password), quote(str(password), safe="")))
        if self.token_encryption_key is not None:
            values.extend(
                k.strip() for k in self.token_encryption_key.get_secret_value().split(",")
            )
        if self.alert_webhook_url is not None:
            values.append(self.alert_webhook_url.get_secret_value())
        if self.supabase_service_role_key is not None:
            values.append(self.supabase_service_role_key.get_secret_value())
        for webhook in self.webhooks:
            values.extend((webhook.url.get_secret_value(), webhook.secret.get_secret_value()))
        return tuple(v for v in values if v)


@dataclass(frozen=True)
class Source:
    """Where a variable's value came from: `environment` or `.env`."""

    value: str
    origin: Literal["environment", ".env"]


def read_sources(
    environ: Mapping[str, str] | None = None, env_file: Path | None = DEFAULT_ENV_FILE
) -> dict[str, Source]:
    """Every variable with its origin: `.env` (if present) overlaid by the process environment."""
    merged: dict[str, Source] = {}
    if env_file is not None and env_file.is_file():
        for name, value in dotenv_values(env_file).items():
            if value is not None:
                merged[name] = Source(value, ".env")
    for name, value in (os.environ if environ is None else environ).items():
        merged[name] = Source(value, "environment")
    return merged


def read_environment(
    environ: Mapping[str, str] | None = None, env_file: Path | None = DEFAULT_ENV_FILE
) -> dict[str, str]:
    """`.env` (if present) overlaid by the process environment."""
    return {name: source.value for name, source in read_sources(environ, env_file).items()}


def setting_variables() -> tuple[str, ...]:
    """The variable of every setting, in declaration order."""
    return tuple(name.upper() for name in Settings.model_fields if name != "brands")


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = DEFAULT_ENV_FILE,
    *,
    require_brands: bool = True,
    with_brands: bool = True,
    require_database: bool = False,
) -> Settings:
    """Build `Settings`, or raise `ConfigErrors` naming every bad variable at once.

    `with_brands=False` skips brand discovery altogether, for commands that never talk to
    the API (`migrate`, `runs`): a half-filled `.env` must not stop a migration.
    `require_database`: the command touches data, so it needs `DATABASE_URL`, the REST
    sink or an explicit `REI_EMBEDDED_DB=1`.
    """
    env = read_environment(environ, env_file)
    errors: list[ConfigError] = []
    fields = _setting_fields(env, errors)
    try:
        settings: Settings | None = Settings.model_validate(fields)
    except ValidationError as exc:
        errors.extend(validation_errors(exc))
        settings = None
    insecure = settings.rei_allow_insecure_http if settings else False
    update: dict[str, Any] = {}
    if with_brands:
        only = settings.rei_brands if settings else fields.get("rei_brands")
        update["brands"] = _brands(env, only, insecure, require_brands, errors)
    webhooks, webhook_errors = discover_webhooks(env, allow_insecure_http=insecure)
    errors.extend(webhook_errors)
    if require_database and settings is not None and not errors:
        errors.extend(database_errors(settings))
    ConfigErrors.raise_if_any(errors)
    assert settings is not None  # every failure above added an error
    return settings.model_copy(update={"webhooks": webhooks, **update})


def _setting_fields(env: Mapping[str, str], errors: list[ConfigError]) -> dict[str, Any]:
    """The non-empty value of every setting read from one variable, `DATABASE_URL`
    normalised (or left out, its problem added to `errors`)."""
    fields: dict[str, Any] = {
        name: env[name.upper()]
        for name in Settings.model_fields
        if name not in DISCOVERED and env.get(name.upper(), "") != ""
    }
    if "database_url" in fields:
        try:
            fields["database_url"] = normalise_database_url(fields["database_url"])
        except ConfigError as exc:
            errors.append(exc)
            del fields["database_url"]
    return fields


def _brands(
    env: Mapping[str, str],
    only: str | None,
    allow_insecure_http: bool,
    require_brands: bool,
    errors: list[ConfigError],
) -> tuple[Brand, ...]:
    """The good brands of `env`; every brand problem added to `errors`, and "no brands"
    when `require_brands` and there is none and nothing else was wrong."""
    brands, brand_errors = collect_brands(env, only=only, allow_insecure_http=allow_insecure_http)
    errors.extend(brand_errors)
    if require_brands and not brands and not brand_errors:
        errors.append(
            ConfigError(
                "REMAX_<BRAND>_API_URL",
                "no brands configured: set REMAX_<BRAND>_API_URL, _API_KEY, _INTEGRATOR_ID "
                "and _SECRET_KEY for at least one brand (see .env.example)",
            )
        )
    return brands


def database_errors(settings: Settings) -> list[ConfigError]:
    """A command that touches data needs a database it was told to use."""
    if settings.database_url is not None or settings.uses_embedded_db:
        return []
    return [
        ConfigError(
            "DATABASE_URL",
            "is not set: give your Postgres connection string "
            "(postgresql://USER:PASSWORD@HOST:5432/DBNAME), or set REI_EMBEDDED_DB=1 for a "
            "local embedded Postgres in REI_SYNC_HOME (its data lives only in that folder)",
        )
    ]


def unknown_variables(env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """Variables with one of our prefixes that match no setting, each with the closest
    real name (difflib) when there is one: `SYNC_PROPERTY_SCHEDULE` → `SYNC_PROPERTIES_SCHEDULE`."""
    return misspelt_variables(env, setting_variables())
