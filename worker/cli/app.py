"""`rei-sync` commands. Each parses its arguments and calls one function.

Exit codes: 0 success, 1 a domain error (API, auth, database), 2 bad usage or
bad configuration. Errors are one line on stderr and never carry a secret.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from worker import __version__, service_commands
from worker.auth.cli import token_app
from worker.cli import config as config_commands
from worker.cli.terminal import command_settings, domain_errors, out
from worker.config import BRAND_VAR, Settings, load_settings
from worker.db.schema import RunStatus
from worker.feed import commands as feed_commands
from worker.log import configure_logging
from worker.runtime import open_engine
from worker.sandbox.cli import sandbox_command
from worker.status import commands as status_commands
from worker.sync import commands as sync_commands
from worker.sync.commands import EntityChoice, print_results, run_sync

app = typer.Typer(
    name="rei-sync",
    help="Mirror REI API CCA listings, agents and catalogues into Postgres, "
    "holding a valid token for every brand.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags show as `--full`, not `--full <bool>`
)
app.command("sandbox")(sandbox_command)


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
        settings = command_settings(require_brands=False, with_brands=False)
        with open_engine(settings, migrate=True):
            pass
        out.print("database migrated to head")


@app.command()
def demo(
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
            results = run_sync(settings, [], [EntityChoice.all])
            if serve:
                print_results(results)
                raise typer.Exit(service_commands.serve_demo(settings))
        print_results(results)
        if any(r.status == RunStatus.FAILED for r in results):
            raise typer.Exit(1)


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


sync_commands.register(app)
service_commands.register(app)
config_commands.register(app)
status_commands.register(app)
feed_commands.register(app)
app.add_typer(token_app, name="token")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
