"""`rei-sync run` (the daemon), `migrate`, `doctor` (pre-flight checks) and `demo`.

The daemon's modules are imported only by the commands that run it: the other
commands start faster without APScheduler and the health server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr
from rich.table import Table

from worker.auth.crypto import generate_key
from worker.cli.sync import EntityChoice, entity_names, err_line, print_results, report
from worker.cli.terminal import command_settings, domain_errors, json_option, out, safe, write_json
from worker.config import BRAND_VAR, Settings, load_settings
from worker.errors import ConfigError, ConfigErrors
from worker.jobs import SyncRequest, run_sync
from worker.log import configure_logging, redactor
from worker.preflight import Row, configuration_rows, daemon_refusals, doctor_checks
from worker.runtime import open_engine

if TYPE_CHECKING:
    from worker.service import Daemon


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


def migrate_command() -> None:
    """Upgrade the database schema to the latest migration (DATABASE_URL, or the embedded one)."""
    with domain_errors():
        settings = command_settings(require_brands=False, with_brands=False)
        with open_engine(settings, migrate=True):
            pass
        out.print("database migrated to head")


def doctor_command(
    as_json: Annotated[bool, json_option("Print the checks as JSON instead of a table.")] = False,
) -> None:
    """Check what `run` needs: configuration, database, tokens, API URLs, clock skew.

    Exit 0 when every check passes, 2 for bad configuration (what `run` would refuse),
    1 when another check fails. Only the report goes to stdout; logs go to stderr.
    """
    try:
        settings = command_settings()
    except ConfigError as exc:
        _report(configuration_rows(exc.problems), as_json)
        raise typer.Exit(2) from None
    refusals = daemon_refusals(settings)
    rows = doctor_checks(settings, refusals)
    _report(rows, as_json)
    if refusals:
        raise typer.Exit(2)
    if not all(ok for _, ok, _ in rows):
        raise typer.Exit(1)


def _report(rows: list[Row], as_json: bool) -> None:
    if as_json:
        checks = [{"check": name, "ok": ok, "detail": detail} for name, ok, detail in rows]
        write_json({"ok": all(ok for _, ok, _ in rows), "checks": checks})
        return
    table = Table(title="rei-sync doctor")
    for column in ("check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for name, ok, detail in rows:
        table.add_row(name, "ok" if ok else "FAIL", safe(detail))
    out.print(table)


def demo_command(
    listings: Annotated[int, typer.Option(min=1, help="Sandbox listings per brand.")] = 300,
    associates: Annotated[int, typer.Option(min=1, help="Sandbox associates per brand.")] = 40,
    seed: Annotated[int, typer.Option(help="Sandbox data seed.")] = 1,
    serve: Annotated[
        bool, typer.Option("--serve", help="Then run the daemon on them until Ctrl-C.")
    ] = False,
) -> None:
    """Start the sandbox API and the embedded Postgres, sync both brands, print a summary."""
    from worker.sandbox import SandboxConfig, SandboxServer

    with domain_errors():
        config = SandboxConfig(seed=seed, listings=listings, associates=associates)
        out.print(f"[1/4] starting the sandbox API ({listings} listings per brand)")
        with SandboxServer(config, host="127.0.0.1", port=0).start() as sandbox:
            settings = _settings_for_demo(sandbox.env())
            out.print(f"[2/4] sandbox API at {sandbox.base_url}")
            out.print(f"[3/4] embedded Postgres in {settings.rei_sync_home.resolve() / 'pgdata'}")
            brands = ", ".join(b.key for b in settings.brands)
            out.print(
                f"[4/4] migrating, then syncing {brands}: properties (with images), "
                "associates, lookups, geo"
            )
            request = SyncRequest([], entity_names([EntityChoice.all]))
            results = run_sync(settings, request, say=err_line)
            if serve:
                print_results(results)
                raise typer.Exit(serve_demo(settings))
        report(results)


def _settings_for_demo(sandbox_env: dict[str, str]) -> Settings:
    """The user's settings minus their brands and database: the demo is sandbox + embedded only.

    Logs at WARNING unless `LOG_LEVEL` is set: the demo's own step lines say what it does."""
    ignored = ("DATABASE_URL", "REI_BRANDS")
    environ = {k: v for k, v in os.environ.items() if k not in ignored and not BRAND_VAR.match(k)}
    quiet = {"LOG_LEVEL": "WARNING"} if "LOG_LEVEL" not in environ else {}
    demo_env = {**quiet, **environ, **sandbox_env, "REI_EMBEDDED_DB": "1"}
    settings = load_settings(environ=demo_env, env_file=None, require_database=True)
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())
    return settings


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


def register_daemon(app: typer.Typer) -> None:
    """`run` and `doctor`, listed after `sync` and `backfill`."""
    app.command("run")(run_command)
    app.command("doctor")(doctor_command)


def register_setup(app: typer.Typer) -> None:
    """`migrate` and `demo`, listed first after `sandbox`."""
    app.command("migrate")(migrate_command)
    app.command("demo")(demo_command)
