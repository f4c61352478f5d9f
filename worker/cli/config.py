"""`rei-sync config`: the effective settings, where each came from, the brands found.

Secrets are never shown: a secret setting reads `set (secret)`, and `DATABASE_URL`
shows its host, port and database with the password masked.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import SecretStr
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url

from worker.cli.terminal import domain_errors, json_option, out, write_json
from worker.config import (
    BRAND_PARTS,
    Settings,
    load_settings,
    read_sources,
    setting_variables,
    unknown_variables,
)

SECRET_SHOWN = "set (secret)"  # noqa: S105 - what is shown instead of a secret


def shown(name: str, value: Any) -> str:
    """How a setting's value may be printed."""
    if value is None:
        return ""
    if name == "DATABASE_URL" and isinstance(value, SecretStr):
        return make_url(value.get_secret_value()).render_as_string(hide_password=True)
    if isinstance(value, SecretStr):
        return SECRET_SHOWN
    return str(value)


def settings_rows(settings: Settings) -> list[dict[str, str]]:
    sources = read_sources()
    rows = []
    for name in setting_variables():
        source = sources.get(name)
        origin = source.origin if source is not None and source.value != "" else "default"
        rows.append(
            {"variable": name, "value": shown(name, getattr(settings, name.lower())),
             "source": origin}
        )  # fmt: skip
    return rows


def brand_rows(settings: Settings) -> list[dict[str, str]]:
    sources = read_sources()
    rows = []
    for brand in settings.brands:
        origins = {sources[f"REMAX_{brand.key}_{part}"].origin for part in BRAND_PARTS}
        rows.append(
            {"brand": brand.key, "api_url": brand.api_url, "source": ", ".join(sorted(origins))}
        )
    return rows


def config_command(
    as_json: Annotated[bool, json_option("Print it as JSON.")] = False,
) -> None:
    """Show the effective settings, where each came from (environment, .env, default),
    and the brands found; secrets masked."""
    with domain_errors():
        settings = load_settings(require_brands=False)
        unknown: list[dict[str, str | None]] = [
            {"variable": name, "did_you_mean": close}
            for name, close in unknown_variables({k: s.value for k, s in read_sources().items()})
        ]
        settings_table, brands = settings_rows(settings), brand_rows(settings)
    if as_json:
        write_json({"settings": settings_table, "brands": brands, "unknown": unknown})
        return
    table = Table("variable", "value", "source", title="settings")
    for row in settings_table:
        table.add_row(row["variable"], Text(row["value"]), row["source"])
    out.print(table)
    found = Table("brand", "api url", "source", title="brands")
    for row in brands:
        found.add_row(row["brand"], Text(row["api_url"]), row["source"])
    out.print(found if brands else Text("brands: none found (REMAX_<BRAND>_* variables)"))
    for entry in unknown:
        hint = f" (did you mean {entry['did_you_mean']}?)" if entry["did_you_mean"] else ""
        out.print(Text(f"unknown variable {entry['variable']}: ignored{hint}"))


def register(app: typer.Typer) -> None:
    app.command("config")(config_command)
