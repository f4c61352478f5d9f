"""Configuration problems as an operator reads them: pydantic's validation errors as one
`ConfigError` per variable, and variables that look like ours but match no setting (with
a "did you mean" from difflib)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from worker.config.discovery import BRAND_PARTS, BRAND_VAR, WEBHOOK_VAR
from worker.errors import ConfigError

OUR_PREFIXES = (
    "REI_", "SYNC_", "REMAX_", "TOKEN_", "DATABASE_", "SUPABASE_", "LOG_", "HEALTH_",
    "ALERT_", "LEASE_", "SHUTDOWN_", "RUN_AT_",
)  # fmt: skip
"""A variable starting with one of these and matching no setting is most likely a typo."""
NOT_SETTINGS = frozenset({"REI_RELIABILITY_REPORT"})
"""Our variables that are not settings (`make reliability-report`)."""


def misspelt_variables(
    env: Mapping[str, str], settings: Iterable[str]
) -> list[tuple[str, str | None]]:
    """Variables of `env` with one of our prefixes that match none of the `settings`
    variables (nor a brand or webhook variable), each with the closest real name."""
    known = set(settings)
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


def validation_errors(exc: ValidationError) -> list[ConfigError]:
    """One `ConfigError` per failing field; pydantic's messages never include the input here."""
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else "configuration"
        message = str(error["msg"])
        errors.append(ConfigError(field.upper(), message[0].lower() + message[1:]))
    return errors
