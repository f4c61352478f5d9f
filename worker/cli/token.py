"""`rei-sync token …`: status, refresh, gen-key. Thin: parse, call one function, print.

Output shows fingerprints and times, never a token or a key (except `gen-key`,
whose whole job is to print a new key). Exit codes: 0 ok, 1 auth/database
error, 2 configuration error; errors are one scrubbed line on stderr.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from worker.auth.build import StoreChoice
from worker.auth.crypto import generate_key
from worker.auth.manager import TokenManager, TokenStatus
from worker.cli.terminal import command_settings, domain_errors, err, fail, out, safe
from worker.clock import system_clock
from worker.errors import ReiSyncError
from worker.log import redactor
from worker.runtime import open_token_manager

token_app = typer.Typer(
    help="Inspect and renew the brands' API tokens.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags show as `--full`, not `--full <bool>`
)


class StoreName(enum.StrEnum):
    auto = "auto"
    postgres = "postgres"
    memory = "memory"


STORE_CHOICES: dict[StoreName, StoreChoice] = {
    StoreName.auto: "auto",
    StoreName.postgres: "postgres",
    StoreName.memory: "memory",
}

StoreOption = Annotated[
    StoreName,
    typer.Option(
        "--store",
        help="auto: Postgres when TOKEN_ENCRYPTION_KEY is set, else memory.",
        case_sensitive=False,
    ),
]


@contextmanager
def _manager(store_choice: StoreName, *, migrate: bool) -> Iterator[TokenManager]:
    """A manager over the configured store; every error becomes one line and an exit code."""
    with domain_errors():
        choice = STORE_CHOICES[StoreName(store_choice)]
        settings = command_settings(require_database=False)  # only the postgres store needs one
        with open_token_manager(settings, choice, migrate=migrate) as manager:
            yield manager


def _in(seconds: float | None, now: float) -> str:
    if seconds is None:
        return "-"
    left = seconds - now
    sign = "-" if left < 0 else ""
    left = abs(left)
    hours, rest = divmod(int(left), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}h{minutes:02d}m" if hours else f"{sign}{minutes}m{secs:02d}s"


def status_table(statuses: list[TokenStatus], now: float) -> Table:
    table = Table(
        "brand", "state", "expires in", "refresh in", "fingerprint", "store", "last error"
    )
    for s in statuses:
        table.add_row(
            s.brand,
            s.state.value.upper(),
            _in(s.expires_at, now),
            _in(s.refresh_at, now),
            s.fingerprint or "-",
            s.store if s.source in (None, "api", s.store) else f"{s.store} ({s.source})",
            safe(s.last_error or ""),
        )
    return table


@token_app.command("status")
def status(store: StoreOption = StoreName.auto) -> None:
    """Show each brand's token: state, expiry, next refresh, fingerprint, store."""
    with _manager(store, migrate=False) as manager:  # a read-only look: never change the schema
        manager.preload()
        out.print(status_table(manager.status(), system_clock()))


@token_app.command("refresh")
def refresh(
    brand: Annotated[str | None, typer.Option("--brand", "-b", help="Only this brand.")] = None,
    store: StoreOption = StoreName.auto,
) -> None:
    """Request a new token now for every brand (or one), and store it."""
    with _manager(store, migrate=True) as manager:
        keys = manager.brands
        if brand is not None:
            if brand.upper() not in keys:
                fail(
                    2,
                    f"config error: --brand: unknown brand {brand!r} "
                    f"(configured: {', '.join(keys)})",
                )
            keys = (brand.upper(),)
        failed = 0
        for key in keys:
            try:
                manager.force_refresh(key)
            except ReiSyncError as exc:
                failed += 1
                err.print(safe(redactor.scrub(f"error: {exc}")), highlight=False)
        out.print(status_table([s for s in manager.status() if s.brand in keys], system_clock()))
        if failed:
            raise typer.Exit(1)


@token_app.command("gen-key")
def gen_key() -> None:
    """Print a new TOKEN_ENCRYPTION_KEY. To rotate, put it first: NEW,OLD."""
    print(generate_key())
    err.print("set it as TOKEN_ENCRYPTION_KEY (comma-separate keys to rotate: NEW,OLD)")


def register(app: typer.Typer) -> None:
    """Add `token status|refresh|gen-key` to the `rei-sync` app."""
    app.add_typer(token_app, name="token")
