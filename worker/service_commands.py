"""`rei-sync run` (the daemon) and `rei-sync doctor` (pre-flight checks), registered on the app.

Kept apart from `worker/cli/app.py` so the daemon's commands can grow without
touching the shared command module: `cli.py` calls `register(app)` once.
"""

from __future__ import annotations

import json
import sys
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
from sqlalchemy.engine import make_url

from worker.auth.build import build_token_manager, build_token_store
from worker.auth.crypto import generate_key
from worker.cli.terminal import command_settings, domain_errors, out
from worker.config import Settings, is_loopback
from worker.db.migrate import schema_state
from worker.errors import ConfigError, ConfigErrors, ReiSyncError
from worker.log import redactor
from worker.preflight import daemon_refusals
from worker.runtime import open_engine
from worker.safe_text import safe

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
        ConfigErrors.raise_if_any(daemon_refusals(settings))  # before touching the database
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


Row = tuple[str, bool, str]


def doctor_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the checks as JSON instead of a table.")
    ] = False,
) -> None:
    """Check what `run` needs: configuration, database, tokens, API URLs, clock skew.

    Exit 0 when every check passes, 2 for bad configuration (what `run` would refuse),
    1 when another check fails. Only the report goes to stdout; logs go to stderr.
    """
    try:
        settings = command_settings()
    except ConfigError as exc:
        _report([("configuration", False, redactor.scrub(str(p))) for p in exc.problems], as_json)
        raise typer.Exit(2) from None
    refusals = daemon_refusals(settings)
    rows: list[Row] = [
        ("configuration", False, redactor.scrub(str(problem))) for problem in refusals
    ] or [("configuration", True, f"{len(settings.brands)} brand(s)")]
    rows.extend(_doctor_checks(settings))
    _report(rows, as_json)
    if refusals:
        raise typer.Exit(2)
    if not all(ok for _, ok, _ in rows):
        raise typer.Exit(1)


def _doctor_checks(settings: Settings) -> list[Row]:
    rows: list[Row] = []
    with ExitStack() as stack:
        engine: sa.Engine | None = None
        try:
            engine = stack.enter_context(open_engine(settings, check_schema=False))
            state = schema_state(engine)
        except ReiSyncError as exc:
            rows.append(("database", False, redactor.scrub(str(exc))))
            engine = None
        except Exception as exc:
            rows.append(("database", False, f"unreachable: {_where(settings)}: {_one_line(exc)}"))
            engine = None
        else:
            problem = state.problem()
            if problem is None:
                rows.append(("database", True, f"revision {state.current} (head {state.head})"))
            else:
                rows.append(("database", False, problem))
                engine = None  # the shared token store needs the schema: check keys without it
        rows.extend(_token_checks(settings, engine))
    for brand in settings.brands:
        rows.append((f"api url {brand.key}", *_scheme_check(brand.api_url)))
        rows.append((f"clock {brand.key}", *_clock_skew(brand.api_url)))
    return rows


def _where(settings: Settings) -> str:
    """`host:port` of the database (the embedded one: its folder), never the URL."""
    if settings.database_url is None:
        return f"embedded in {settings.rei_sync_home}"
    url = make_url(settings.database_url.get_secret_value())
    host = url.host or str(url.query.get("host", "local socket"))
    return f"{host}:{url.port or 5432}"


def _api_where(api_url: str) -> str:
    url = urlsplit(api_url)
    return f"{url.hostname}:{url.port or (443 if url.scheme == 'https' else 80)}"


def _token_checks(settings: Settings, engine: sa.Engine | None) -> list[Row]:
    """Each brand's token through the shared store, or a memory one without a usable database."""
    rows: list[Row] = []
    with requests.Session() as session:
        try:
            store = build_token_store(settings, engine)
        except ReiSyncError as exc:
            return [("token store", False, redactor.scrub(str(exc)))]
        tokens = build_token_manager(settings, store=store, session=session)
        try:
            for brand in settings.brands:
                where = _api_where(brand.api_url)
                try:
                    tokens.get_valid_token(brand.key)
                    rows.append((f"token {brand.key}", True, f"acquired ({tokens.store_name})"))
                except ReiSyncError as exc:
                    detail = redactor.scrub(f"{exc} ({where})")
                    rows.append((f"token {brand.key}", False, detail))
                except Exception as exc:
                    rows.append((f"token {brand.key}", False, f"{where}: {_one_line(exc)}"))
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
        return False, f"unreachable: {_api_where(api_url)}: {type(exc).__name__}"
    return abs(skew) <= MAX_CLOCK_SKEW_SECONDS, f"skew {skew:+.0f}s"


def _report(rows: list[Row], as_json: bool) -> None:
    if as_json:
        checks = [{"check": name, "ok": ok, "detail": detail} for name, ok, detail in rows]
        document = {"ok": all(ok for _, ok, _ in rows), "checks": checks}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        sys.stdout.flush()
        return
    table = Table(title="rei-sync doctor")
    for column in ("check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for name, ok, detail in rows:
        table.add_row(name, "ok" if ok else "FAIL", safe(detail))
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("doctor")(doctor_command)
