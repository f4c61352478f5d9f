"""`rei-sync` commands. Each parses its arguments and calls one function.

Exit codes: 0 success, 1 a domain error (API, auth, database), 2 bad usage or
bad configuration. Errors are one line on stderr and never carry a secret.

The order of the registrations below is the order of `rei-sync --help`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from worker import __version__
from worker.cli import config, feed, service, status, sync
from worker.cli.sandbox import sandbox_command
from worker.cli.terminal import out
from worker.cli.token import token_app

app = typer.Typer(
    name="rei-sync",
    help="Mirror REI API CCA listings, agents and catalogues into Postgres, "
    "holding a valid token for every brand.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags show as `--full`, not `--full <bool>`
)


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


app.command("sandbox")(sandbox_command)
service.register_setup(app)
sync.register(app)
service.register_daemon(app)
config.register(app)
status.register(app)
feed.register(app)
app.add_typer(token_app, name="token")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
