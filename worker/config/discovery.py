"""Settings built from groups of variables: brands (`REMAX_<BRAND>_*`) and change-feed
subscribers (`REI_WEBHOOK_<NAME>_*`).

Every bad variable is reported (a `ConfigError` naming it, never its value) and the good
groups are still returned, so `load_settings` can report every problem at once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from worker.config.urls import validate_api_url
from worker.errors import ConfigError, ConfigErrors

BRAND_VAR = re.compile(
    r"^REMAX_(?P<brand>[A-Z0-9][A-Z0-9_]*?)_(?P<part>API_URL|API_KEY|INTEGRATOR_ID|SECRET_KEY)$"
)
BRAND_PARTS = ("API_URL", "API_KEY", "INTEGRATOR_ID", "SECRET_KEY")
WEBHOOK_VAR = re.compile(r"^REI_WEBHOOK_(?P<name>[A-Z0-9][A-Z0-9_]*?)_(?P<part>URL|SECRET)$")
WEBHOOK_PARTS = ("URL", "SECRET")


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


def _group(env: Mapping[str, str], pattern: re.Pattern[str], key: str) -> dict[str, dict[str, str]]:
    """The variables of `env` matching `pattern`, grouped by its `key` group, then by `part`."""
    parts: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        match = pattern.match(name)
        if match:
            parts.setdefault(match[key], {})[match["part"]] = value
    return parts


def discover_webhooks(
    env: Mapping[str, str], *, allow_insecure_http: bool = False
) -> tuple[tuple[Webhook, ...], list[ConfigError]]:
    """Group `REI_WEBHOOK_<NAME>_URL` / `_SECRET` into subscribers, sorted by name; every
    bad webhook variable is reported, the good subscribers are still returned."""
    errors: list[ConfigError] = []
    parts = _group(env, WEBHOOK_VAR, "name")
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


def _brand_order(
    parts: Mapping[str, object], only: str | None, errors: list[ConfigError]
) -> list[str]:
    """The brand keys to build: `REI_BRANDS` order when given (its problems added to
    `errors`), otherwise every discovered brand, sorted."""
    if only is None:
        return sorted(parts)
    wanted = [b.strip().upper() for b in only.split(",") if b.strip()]
    if not wanted:
        errors.append(ConfigError("REI_BRANDS", "is empty: list brand keys, e.g. AZURA,BLUE_OCEAN"))
    for key in wanted:
        if key not in parts:
            errors.append(ConfigError("REI_BRANDS", f"brand {key} has no REMAX_{key}_* variables"))
    return [key for key in wanted if key in parts]


def _brand(
    key: str, found: Mapping[str, str], allow_insecure_http: bool, errors: list[ConfigError]
) -> Brand | None:
    """Brand `key` from its parts, or None with its problems added to `errors`."""
    missing = [part for part in BRAND_PARTS if not found.get(part, "").strip()]
    errors.extend(
        ConfigError(f"REMAX_{key}_{part}", f"missing or empty (brand {key})") for part in missing
    )
    try:
        api_url = validate_api_url(
            f"REMAX_{key}_API_URL", found.get("API_URL", ""), allow_insecure_http
        )
    except ConfigError as exc:
        if "API_URL" not in missing:
            errors.append(exc)
        return None
    if missing:
        return None
    return Brand(
        key=key,
        api_url=api_url,
        api_key=SecretStr(found["API_KEY"].strip()),
        integrator_id=SecretStr(found["INTEGRATOR_ID"].strip()),
        secret_key=SecretStr(found["SECRET_KEY"].strip()),
    )


def collect_brands(
    env: Mapping[str, str], *, only: str | None = None, allow_insecure_http: bool = False
) -> tuple[tuple[Brand, ...], list[ConfigError]]:
    """Group `REMAX_<BRAND>_<PART>` variables into brands, in `REI_BRANDS` order when given;
    every bad brand variable is reported, the good brands are still returned."""
    parts = _group(env, BRAND_VAR, "brand")
    errors: list[ConfigError] = []
    brands = []
    for key in _brand_order(parts, only, errors):
        brand = _brand(key, parts[key], allow_insecure_http, errors)
        if brand is not None:
            brands.append(brand)
    return tuple(brands), errors


def discover_brands(
    env: Mapping[str, str], *, only: str | None = None, allow_insecure_http: bool = False
) -> tuple[Brand, ...]:
    """The brands of `env`; `ConfigErrors` naming every bad brand variable."""
    brands, errors = collect_brands(env, only=only, allow_insecure_http=allow_insecure_http)
    ConfigErrors.raise_if_any(errors)
    return brands
