"""Settings from the environment and `.env`, and brand discovery from `REMAX_<BRAND>_*`.

Both read one merged view (`.env` overlaid by the process environment), so the
settings and the brands can never disagree about where a value came from.
Every problem becomes a `ConfigError` naming the variable; values are never
echoed, because some of them are secrets.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from worker.errors import ConfigError

BRAND_VAR = re.compile(
    r"^REMAX_(?P<brand>[A-Z0-9][A-Z0-9_]*?)_(?P<part>API_URL|API_KEY|INTEGRATOR_ID|SECRET_KEY)$"
)
BRAND_PARTS = ("API_URL", "API_KEY", "INTEGRATOR_ID", "SECRET_KEY")
WEBHOOK_VAR = re.compile(r"^REI_WEBHOOK_(?P<name>[A-Z0-9][A-Z0-9_]*?)_(?P<part>URL|SECRET)$")
WEBHOOK_PARTS = ("URL", "SECRET")
DEFAULT_ENV_FILE = Path(".env")


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
    rei_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    rei_read_timeout_seconds: float = Field(default=30.0, gt=0)
    rei_allow_insecure_http: bool = False
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
            password = urlsplit(self.database_url.get_secret_value()).password
            if password:
                values.append(password)
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


def read_environment(
    environ: Mapping[str, str] | None = None, env_file: Path | None = DEFAULT_ENV_FILE
) -> dict[str, str]:
    """`.env` (if present) overlaid by the process environment."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = DEFAULT_ENV_FILE,
    *,
    require_brands: bool = True,
    with_brands: bool = True,
) -> Settings:
    """Build `Settings` or raise `ConfigError` naming the first bad variable.

    `with_brands=False` skips brand discovery altogether, for commands that never talk to
    the API (`migrate`, `runs`): a half-filled `.env` must not stop a migration.
    """
    env = read_environment(environ, env_file)
    fields = {
        name: env[name.upper()]
        for name in Settings.model_fields
        if name not in DISCOVERED and env.get(name.upper(), "") != ""
    }
    try:
        settings = Settings.model_validate(fields)
    except ValidationError as exc:
        raise _config_error(exc) from None
    webhooks = discover_webhooks(env, allow_insecure_http=settings.rei_allow_insecure_http)
    if webhooks:
        settings = settings.model_copy(update={"webhooks": webhooks})
    if not with_brands:
        return settings
    brands = discover_brands(
        env,
        only=settings.rei_brands,
        allow_insecure_http=settings.rei_allow_insecure_http,
    )
    if require_brands and not brands:
        raise ConfigError(
            "REMAX_<BRAND>_API_URL",
            "no brands configured: set REMAX_<BRAND>_API_URL, _API_KEY, _INTEGRATOR_ID and "
            "_SECRET_KEY for at least one brand (see .env.example)",
        )
    return settings.model_copy(update={"brands": brands})


DISCOVERED = ("brands", "webhooks")
"""Settings fields built from groups of variables, not read from one variable of that name."""


def discover_webhooks(
    env: Mapping[str, str], *, allow_insecure_http: bool = False
) -> tuple[Webhook, ...]:
    """Group `REI_WEBHOOK_<NAME>_URL` / `_SECRET` into subscribers, sorted by name."""
    parts: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        match = WEBHOOK_VAR.match(name)
        if match:
            parts.setdefault(match["name"], {})[match["part"]] = value
    webhooks = []
    for key in sorted(parts):
        found = parts[key]
        for part in WEBHOOK_PARTS:
            if not found.get(part, "").strip():
                raise ConfigError(f"REI_WEBHOOK_{key}_{part}", f"missing or empty (webhook {key})")
        variable = f"REI_WEBHOOK_{key}_URL"
        validate_api_url(variable, found["URL"], allow_insecure_http)
        webhooks.append(
            Webhook(
                name=key.lower(),
                url=SecretStr(found["URL"].strip()),
                secret=SecretStr(found["SECRET"].strip()),
            )
        )
    return tuple(webhooks)


def discover_brands(
    env: Mapping[str, str], *, only: str | None = None, allow_insecure_http: bool = False
) -> tuple[Brand, ...]:
    """Group `REMAX_<BRAND>_<PART>` variables into brands, in `REI_BRANDS` order when given."""
    parts: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        match = BRAND_VAR.match(name)
        if match:
            parts.setdefault(match["brand"], {})[match["part"]] = value
    if only is not None:
        wanted = [b.strip().upper() for b in only.split(",") if b.strip()]
        if not wanted:
            raise ConfigError("REI_BRANDS", "is empty: list brand keys, e.g. AZURA,BLUE_OCEAN")
        for key in wanted:
            if key not in parts:
                raise ConfigError("REI_BRANDS", f"brand {key} has no REMAX_{key}_* variables")
        order = wanted
    else:
        order = sorted(parts)
    brands = []
    for key in order:
        found = parts[key]
        for part in BRAND_PARTS:
            if not found.get(part, "").strip():
                raise ConfigError(f"REMAX_{key}_{part}", f"missing or empty (brand {key})")
        brands.append(
            Brand(
                key=key,
                api_url=validate_api_url(
                    f"REMAX_{key}_API_URL", found["API_URL"], allow_insecure_http
                ),
                api_key=SecretStr(found["API_KEY"].strip()),
                integrator_id=SecretStr(found["INTEGRATOR_ID"].strip()),
                secret_key=SecretStr(found["SECRET_KEY"].strip()),
            )
        )
    return tuple(brands)


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


def _config_error(exc: ValidationError) -> ConfigError:
    error = exc.errors(include_url=False, include_input=False)[0]
    field = str(error["loc"][0]) if error["loc"] else "configuration"
    message = str(error["msg"])
    return ConfigError(field.upper(), message[0].lower() + message[1:])
