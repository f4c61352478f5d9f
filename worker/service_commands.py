"""`rei-sync run` (the daemon) and `rei-sync doctor` (pre-flight checks), registered on the app.

Kept apart from `worker/cli.py` so the daemon's commands can grow without
touching the shared command module: `cli.py` calls `register(app)` once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
import typer
from pydantic import SecretStr
from rich.table import Table

from worker.auth.build import build_token_manager, build_token_store, require_shared_store
from worker.auth.crypto import generate_key
from worker.config import Settings, is_loopback
from worker.errors import ConfigError, ReiSyncError
from worker.log import redactor
from worker.runtime import open_engine
from worker.safe_text import safe
from worker.terminal import command_settings, domain_errors, out

if TYPE_CHECKING:
    from worker.service import Daemon

MAX_CLOCK_SKEW_SECONDS = 30.0


def run_command(
    migrate: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Upgrade the schema before starting.")
    ] = False,
) -> None:
    """Run the daemon: scheduled token renewals and syncs, /healthz /readyz /metrics."""
    from worker.service import run_daemon  # the daemon's modules only for the daemon

    with domain_errors():
        settings = command_settings()
        require_shared_store(settings)  # before touching the database
        with open_engine(settings, migrate=migrate) as engine:
            code = run_daemon(settings, engine, exit_when_done=True)
    raise typer.Exit(code)


def serve_demo(settings: Settings, *, say: Callable[[str], None] = out.print) -> int:
    """`demo --serve`: the daemon on the demo's sandbox and embedded Postgres until Ctrl-C."""
    from worker.service import run_daemon

    update: dict[str, object] = {"health_bind": "127.0.0.1", "run_at_start": False}
    if settings.token_encryption_key is None:
        # The daemon needs the shared encrypted store; the demo's embedded database is
        # throwaway, so an ephemeral key (registered with the redactor) is enough.
        key = generate_key()
        redactor.register([key])
        update["token_encryption_key"] = SecretStr(key)
    served = settings.model_copy(update=update)

    def ready(daemon: Daemon) -> None:
        if daemon.health is not None:
            say(f"daemon running: metrics at {daemon.health.url('/metrics')}")
            say(f"readiness at {daemon.health.url('/readyz')}; Ctrl-C to stop")

    with open_engine(served, migrate=True) as engine:
        return run_daemon(served, engine, on_ready=ready)


def doctor_command() -> None:
    """Check configuration, database, tokens, API URLs and clock skew; exit 1 if any fails."""
    try:
        settings = command_settings()
    except ConfigError as exc:
        _report([("configuration", False, redactor.scrub(str(exc)))])
        raise typer.Exit(1) from None
    rows: list[tuple[str, bool, str]] = [
        ("configuration", True, f"{len(settings.brands)} brand(s)")
    ]
    rows.extend(_doctor_checks(settings))
    _report(rows)
    if not all(ok for _, ok, _ in rows):
        raise typer.Exit(1)


def _doctor_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    rows: list[tuple[str, bool, str]] = []
    with ExitStack() as stack:
        engine: sa.Engine | None = None
        try:
            engine = stack.enter_context(open_engine(settings))
            from worker.db.migrate import current_revision, head_revision

            current, head = current_revision(engine), head_revision()
        except Exception as exc:
            rows.append(("database", False, f"unreachable: {_one_line(exc)}"))
            engine = None
        else:
            if current == head:
                rows.append(("database", True, f"revision {current} (head {head})"))
            else:
                shown = current or "empty"
                rows.append(
                    ("database", False, f"at {shown}, head is {head}: run rei-sync migrate")
                )
                engine = None  # the shared token store needs the schema: check keys without it
        rows.extend(_token_checks(settings, engine))
    for brand in settings.brands:
        rows.append((f"api url {brand.key}", *_scheme_check(brand.api_url)))
        rows.append((f"clock {brand.key}", *_clock_skew(brand.api_url)))
    return rows


def _token_checks(settings: Settings, engine: sa.Engine | None) -> list[tuple[str, bool, str]]:
    """Each brand's token through the shared store, or a memory one without a usable database."""
    rows: list[tuple[str, bool, str]] = []
    with requests.Session() as session:
        try:
            store = build_token_store(settings, engine)
        except ReiSyncError as exc:
            return [("token store", False, redactor.scrub(str(exc)))]
        tokens = build_token_manager(settings, store=store, session=session)
        try:
            for brand in settings.brands:
                try:
                    tokens.get_valid_token(brand.key)
                    rows.append((f"token {brand.key}", True, f"acquired ({tokens.store_name})"))
                except ReiSyncError as exc:
                    rows.append((f"token {brand.key}", False, redactor.scrub(str(exc))))
                except Exception as exc:
                    rows.append((f"token {brand.key}", False, _one_line(exc)))
        finally:
            tokens.close()
    return rows


def _one_line(exc: BaseException) -> str:
    """`Type: first line` of an error (a DBAPI error's own text, not SQLAlchemy's wrapper)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0] if lines else ''}"
    return redactor.scrub(text)[:200]


def _scheme_check(api_url: str) -> tuple[bool, str]:
    """https, or plain http only to a loopback host (the sandbox): keys must not travel in clear."""
    url = urlsplit(api_url)
    shown = f"{url.scheme}://{url.hostname}"
    if url.scheme == "https" or (url.scheme == "http" and is_loopback(url.hostname or "")):
        return True, shown
    return False, f"{shown}: plain http to a non-loopback host sends keys in clear, use https"


def _clock_skew(api_url: str) -> tuple[bool, str]:
    """Local clock against the API's `Date` header (1 s resolution)."""
    try:
        response = requests.head(api_url, timeout=5, allow_redirects=False)
        date = response.headers.get("Date")
        if not date:
            return False, "no Date header"
        skew = parsedate_to_datetime(date).timestamp() - time.time()
    except (requests.RequestException, ValueError, TypeError) as exc:
        return False, f"unreachable: {type(exc).__name__}"
    return abs(skew) <= MAX_CLOCK_SKEW_SECONDS, f"skew {skew:+.0f}s"


def _report(rows: list[tuple[str, bool, str]]) -> None:
    table = Table(title="rei-sync doctor")
    for column in ("check", "result", "detail"):
        table.add_column(column)
    for name, ok, detail in rows:
        table.add_row(name, "ok" if ok else "FAIL", safe(detail))
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("doctor")(doctor_command)
