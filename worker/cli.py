"""`rei-sync` commands. Each parses its arguments and calls one function.

Exit codes: 0 success, 1 a domain error (API, auth, database), 2 bad usage or
bad configuration. Errors are one line on stderr and never carry a secret.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, NoReturn

import requests
import typer
from rich.console import Console
from rich.table import Table

from worker import __version__
from worker.config import BRAND_VAR, Settings, load_settings
from worker.db.migrate import upgrade_head
from worker.errors import ConfigError, ReiSyncError
from worker.log import configure_logging, redactor
from worker.runtime import build_client, build_token_manager, open_engine
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sandbox.cli import sandbox_command
from worker.sinks.postgres import PostgresSink
from worker.sync.engine import RunResult, sync_entity
from worker.sync.entities import ENTITIES

app = typer.Typer(
    name="rei-sync",
    help="Mirror REI API CCA listings, agents and catalogues into Postgres, "
    "holding a valid token for every brand.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("sandbox")(sandbox_command)
out = Console()
err = Console(stderr=True)


class EntityChoice(StrEnum):
    properties = "properties"
    associates = "associates"
    all = "all"


def _fail(code: int, message: str) -> NoReturn:
    err.print(redactor.scrub(message), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Map our errors to exit codes: config → 2, everything else we raise → 1."""
    try:
        yield
    except ConfigError as exc:
        _fail(2, f"config error: {exc}")
    except ReiSyncError as exc:
        _fail(1, f"error: {exc}")


def _settings(require_brands: bool = True) -> Settings:
    settings = load_settings(require_brands=require_brands)
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())
    return settings


def _version(value: bool) -> None:
    if value:
        out.print(f"rei-sync {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Mirror REI API CCA data into Postgres. Configuration: environment and `.env`."""


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest migration (DATABASE_URL, or the embedded one)."""
    with domain_errors():
        settings = _settings(require_brands=False)
        with open_engine(settings) as engine:
            upgrade_head(engine)
        out.print("database migrated to head")


@app.command()
def sync(
    brand: Annotated[
        list[str] | None,
        typer.Option(
            "--brand", "-b", help="Brand key (repeatable). Default: every configured brand."
        ),
    ] = None,
    entity: Annotated[
        EntityChoice, typer.Option("--entity", "-e", help="What to sync.")
    ] = EntityChoice.all,
) -> None:
    """Run one full sync now for the configured brands, then exit (migrates first)."""
    with domain_errors():
        settings = _settings()
        results = run_sync(settings, brand or [], entity)
        _print_results(results)
        if any(r.status == "failed" for r in results):
            raise typer.Exit(1)


@app.command()
def demo(
    listings: Annotated[int, typer.Option(min=1, help="Sandbox listings per brand.")] = 300,
    associates: Annotated[int, typer.Option(min=1, help="Sandbox associates per brand.")] = 40,
    seed: Annotated[int, typer.Option(help="Sandbox data seed.")] = 1,
) -> None:
    """Start the sandbox API and the embedded Postgres, sync both brands, print a summary."""
    with domain_errors():
        config = SandboxConfig(seed=seed, listings=listings, associates=associates)
        with SandboxServer(config, host="127.0.0.1", port=0).start() as sandbox:
            settings = _settings_for_demo(sandbox.env())
            out.print(
                f"sandbox API at {sandbox.base_url}; database: embedded in {settings.rei_sync_home}"
            )
            results = run_sync(settings, [], EntityChoice.all)
        _print_results(results)
        if any(r.status == "failed" for r in results):
            raise typer.Exit(1)


def _settings_for_demo(sandbox_env: dict[str, str]) -> Settings:
    """The user's settings minus their brands and database: the demo is sandbox + embedded only."""
    ignored = ("DATABASE_URL", "REI_BRANDS")
    environ = {k: v for k, v in os.environ.items() if k not in ignored and not BRAND_VAR.match(k)}
    settings = load_settings(environ={**environ, **sandbox_env}, env_file=None)
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())
    return settings


def run_sync(
    settings: Settings, brand_keys: Sequence[str], entity: EntityChoice
) -> list[RunResult]:
    brands = [settings.brand(key) for key in brand_keys] if brand_keys else list(settings.brands)
    entities = list(ENTITIES.values()) if entity is EntityChoice.all else [ENTITIES[entity.value]]
    results: list[RunResult] = []
    with open_engine(settings, migrate=True) as engine, requests.Session() as session:
        sink = PostgresSink(engine)
        tokens = build_token_manager(settings, session)
        for brand in brands:
            client = build_client(settings, brand, tokens, session)
            for spec in entities:
                result = sync_entity(client, sink, spec, take=settings.rei_page_size)
                if result.error:
                    err.print(
                        redactor.scrub(f"{brand.key}/{spec.name}: {result.error}"), markup=False
                    )
                results.append(result)
    return results


def _print_results(results: Sequence[RunResult]) -> None:
    table = Table(title="sync summary")
    for column in (
        "brand",
        "entity",
        "status",
        "seen",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
    ):
        table.add_column(
            column, justify="right" if column not in ("brand", "entity", "status") else "left"
        )
    table.add_column("seconds", justify="right")
    for r in results:
        c = r.counts
        table.add_row(
            r.brand,
            r.entity,
            r.status,
            *(str(v) for v in (c.seen, c.inserted, c.updated, c.unchanged, c.rejected)),
            f"{r.seconds:.2f}",
        )
    out.print(table)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
