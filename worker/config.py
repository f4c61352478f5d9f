"""Settings from the environment and `.env`, and brand discovery from `REMAX_<BRAND>_*`.

Both read one merged view (`.env` overlaid by the process environment), so the
settings and the brands can never disagree about where a value came from.
Every problem becomes a `ConfigError` naming the variable, and all of them are
reported at once (`ConfigErrors`); values are never echoed, because some of them
are secrets. `DATABASE_URL` is parsed here, once, so a password holding `@` or `#`
can never be mistaken for a host name further down.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from worker.errors import ConfigError, ConfigErrors

BRAND_VAR = re.compile(
    r"^REMAX_(?P<brand>[A-Z0-9][A-Z0-9_]*?)_(?P<part>API_URL|API_KEY|INTEGRATOR_ID|SECRET_KEY)$"
)
BRAND_PARTS = ("API_URL", "API_KEY", "INTEGRATOR_ID", "SECRET_KEY")
WEBHOOK_VAR = re.compile(r"^REI_WEBHOOK_(?P<name>[A-Z0-9][A-Z0-9_]*?)_(?P<part>URL|SECRET)$")
WEBHOOK_PARTS = ("URL", "SECRET")
DEFAULT_ENV_FILE = Path(".env")
DATABASE_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg")
OUR_PREFIXES = (
    "REI_", "SYNC_", "REMAX_", "TOKEN_", "DATABASE_", "SUPABASE_", "LOG_", "HEALTH_",
    "ALERT_", "LEASE_", "SHUTDOWN_", "RUN_AT_",
)  # fmt: skip
"""A variable starting with one of these and matching no setting is most likely a typo."""
NOT_SETTINGS = frozenset({"REI_RELIABILITY_REPORT"})
"""Our variables that are not settings (`make reliability-report`)."""


class Brand(BaseModel):
    """One office's connection to the REI API. Secrets stay `SecretStr` (masked in repr)."""

    model_config = ConfigDict(frozen=True)

    key: str
    api_url: str
    api_key: SecretStr
    integrator_id: SecretStr
    secret_key: SecretStr

    def credentials_fingerprint(self) -> str:
        """Short SHA-256 of the URL and keys: changes whenever any of them changes."""
        material = "\0".join(
            (
                self.api_url,
                self.api_key.get_secret_value(),
                self.integrator_id.get_secret_value(),
                self.secret_key.get_secret_value(),
            )
        )
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def secret_values(self) -> tuple[str, ...]:
        return (
            self.api_key.get_secret_value(),
            self.integrator_id.get_secret_value(),
            self.secret_key.get_secret_value(),
        )


class Webhook(BaseModel):
    """A change-feed subscriber: where its events are POSTed and the secret that signs them."""

    model_config = ConfigDict(frozen=True)

    name: str
    url: SecretStr
    """Secret-like: a URL may carry a token; shown only as its host (`display_url`)."""
    secret: SecretStr

    @property
    def display_url(self) -> str:
        url = urlsplit(self.url.get_secret_value())
        return f"{url.scheme}://{url.hostname}{'' if url.port is None else f':{url.port}'}"


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
    try:
        settings: Settings | None = Settings.model_validate(fields)
    except ValidationError as exc:
        errors.extend(_config_errors(exc))
        settings = None
    insecure = settings.rei_allow_insecure_http if settings else False
    if with_brands:
        only = settings.rei_brands if settings else fields.get("rei_brands")
        brands, brand_errors = collect_brands(env, only=only, allow_insecure_http=insecure)
        errors.extend(brand_errors)
        if require_brands and not brands and not brand_errors:
            errors.append(
                ConfigError(
                    "REMAX_<BRAND>_API_URL",
                    "no brands configured: set REMAX_<BRAND>_API_URL, _API_KEY, _INTEGRATOR_ID "
                    "and _SECRET_KEY for at least one brand (see .env.example)",
                )
            )
    webhooks, webhook_errors = discover_webhooks(env, allow_insecure_http=insecure)
    errors.extend(webhook_errors)
    if require_database and settings is not None and not errors:
        errors.extend(database_errors(settings))
    ConfigErrors.raise_if_any(errors)
    assert settings is not None  # every failure above added an error
    update: dict[str, Any] = {"webhooks": webhooks}
    if with_brands:
        update["brands"] = brands
    return settings.model_copy(update=update)


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


def normalise_database_url(text: str) -> str:
    """`DATABASE_URL` as a well-formed psycopg URL, or `ConfigError` naming it.

    The password is everything between the first `:` after the user name and the
    *last* `@` before the host, so `p@ss#w0rd` works unencoded (and percent-encoded).
    No message ever repeats any part of the value.
    """
    variable = "DATABASE_URL"
    value = text.strip()
    scheme, sep, rest = value.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise ConfigError(
            variable, "is not a URL: expected postgresql://USER:PASSWORD@HOST:5432/DBNAME"
        )
    if scheme.lower() not in DATABASE_SCHEMES:
        raise ConfigError(variable, f"unsupported scheme {scheme}: use postgresql://")
    userinfo, at, location = rest.rpartition("@")
    try:
        parsed = make_url(f"postgresql://{location}")
        port = parsed.port
    except ValueError:
        raise ConfigError(variable, "has an invalid port: expected a number 1-65535") from None
    except ArgumentError:
        raise ConfigError(variable, "is not a valid URL") from None
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(variable, f"port {port} is out of range 1-65535")
    if not parsed.host and "host" not in parsed.query:
        raise ConfigError(
            variable, "has no host: expected postgresql://USER:PASSWORD@HOST:5432/DBNAME"
        )
    user, colon, password = userinfo.partition(":")
    url = URL.create(
        "postgresql+psycopg",
        username=unquote(user) if at and user else None,
        password=unquote(password) if at and colon else None,
        host=parsed.host,
        port=port,
        database=parsed.database,
        query=parsed.query,
    )
    return url.render_as_string(hide_password=False)


DISCOVERED = ("brands", "webhooks")
"""Settings fields built from groups of variables, not read from one variable of that name."""


def discover_webhooks(
    env: Mapping[str, str], *, allow_insecure_http: bool = False
) -> tuple[tuple[Webhook, ...], list[ConfigError]]:
    """Group `REI_WEBHOOK_<NAME>_URL` / `_SECRET` into subscribers, sorted by name; every
    bad webhook variable is reported, the good subscribers are still returned."""
    errors: list[ConfigError] = []
    parts: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        match = WEBHOOK_VAR.match(name)
        if match:
            parts.setdefault(match["name"], {})[match["part"]] = value
    webhooks = []
    for key in sorted(parts):
        found = parts[key]
        missing = [part for part in WEBHOOK_PARTS if not found.get(part, "").strip()]
        for part in missing:
            errors.append(
                ConfigError(f"REI_WEBHOOK_{key}_{part}", f"missing or empty (webhook {key})")
            )
        if missing:
            continue
        try:
            validate_api_url(f"REI_WEBHOOK_{key}_URL", found["URL"], allow_insecure_http)
        except ConfigError as exc:
            errors.append(exc)
            continue
        webhooks.append(
            Webhook(
                name=key.lower(),
                url=SecretStr(found["URL"].strip()),
                secret=SecretStr(found["SECRET"].strip()),
            )
        )
    return tuple(webhooks), errors


def collect_brands(
    env: Mapping[str, str], *, only: str | None = None, allow_insecure_http: bool = False
) -> tuple[tuple[Brand, ...], list[ConfigError]]:
    """Group `REMAX_<BRAND>_<PART>` variables into brands, in `REI_BRANDS` order when given;
    every bad brand variable is reported, the good brands are still returned."""
    parts: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        match = BRAND_VAR.match(name)
        if match:
            parts.setdefault(match["brand"], {})[match["part"]] = value
    errors: list[ConfigError] = []
    if only is not None:
        wanted = [b.strip().upper() for b in only.split(",") if b.strip()]
        if not wanted:
            errors.append(
                ConfigError("REI_BRANDS", "is empty: list brand keys, e.g. AZURA,BLUE_OCEAN")
            )
        for key in wanted:
            if key not in parts:
                errors.append(
                    ConfigError("REI_BRANDS", f"brand {key} has no REMAX_{key}_* variables")
                )
        order = [key for key in wanted if key in parts]
    else:
        order = sorted(parts)
    brands = []
    for key in order:
        found = parts[key]
        missing = [part for part in BRAND_PARTS if not found.get(part, "").strip()]
        errors.extend(
            ConfigError(f"REMAX_{key}_{part}", f"missing or empty (brand {key})")
            for part in missing
        )
        try:
            api_url = validate_api_url(
                f"REMAX_{key}_API_URL", found.get("API_URL", ""), allow_insecure_http
            )
        except ConfigError as exc:
            if "API_URL" not in missing:
                errors.append(exc)
            continue
        if missing:
            continue
        brands.append(
            Brand(
                key=key,
                api_url=api_url,
                api_key=SecretStr(found["API_KEY"].strip()),
                integrator_id=SecretStr(found["INTEGRATOR_ID"].strip()),
                secret_key=SecretStr(found["SECRET_KEY"].strip()),
            )
        )
    return tuple(brands), errors


def discover_brands(
    env: Mapping[str, str], *, only: str | None = None, allow_insecure_http: bool = False
) -> tuple[Brand, ...]:
    """The brands of `env`; `ConfigErrors` naming every bad brand variable."""
    brands, errors = collect_brands(env, only=only, allow_insecure_http=allow_insecure_http)
    ConfigErrors.raise_if_any(errors)
    return brands


def unknown_variables(env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """Variables with one of our prefixes that match no setting, each with the closest
    real name (difflib) when there is one: `SYNC_PROPERTY_SCHEDULE` → `SYNC_PROPERTIES_SCHEDULE`."""
    known = set(setting_variables())
    brand_keys = {m["brand"] for m in map(BRAND_VAR.match, env) if m}
    candidates = known | {f"REMAX_{b}_{part}" for b in brand_keys for part in BRAND_PARTS}
    unknown: list[tuple[str, str | None]] = []
    for name in sorted(env):
        if not name.startswith(OUR_PREFIXES) or name in known or name in NOT_SETTINGS:
            continue
        if BRAND_VAR.match(name) or WEBHOOK_VAR.match(name):
            continue
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
        unknown.append((name, close[0] if close else None))
    return unknown


def validate_api_url(variable: str, value: str, allow_insecure_http: bool) -> str:
    """An absolute http(s) URL; plain http only to loopback or when explicitly allowed."""
    try:
        url = urlsplit(value.strip())
        url.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(variable, "is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(
            variable, "must be an absolute http(s) URL, e.g. https://remax-cca.com/api/v1"
        )
    if url.username or url.password:
        raise ConfigError(variable, "must not carry credentials in the URL")
    if url.scheme == "http" and not (is_loopback(url.hostname) or allow_insecure_http):
        raise ConfigError(
            variable,
            "plain http:// to a non-loopback host would send keys in clear text; "
            "use https:// or set REI_ALLOW_INSECURE_HTTP=1",
        )
    return value.strip().rstrip("/")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _config_errors(exc: ValidationError) -> list[ConfigError]:
    """One `ConfigError` per failing field; pydantic's messages never include the input here."""
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else "configuration"
        message = str(error["msg"])
        errors.append(ConfigError(field.upper(), message[0].lower() + message[1:]))
    return errors
