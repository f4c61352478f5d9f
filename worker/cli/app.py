"""`rei-sync` commands. Each parses its arguments and calls one function.

Exit codes: 0 success, 1 a domain error (API, auth, database), 2 bad usage or
bad configuration. Errors are one line on stderr and never carry a secret.

The commands and their order in `rei-sync --help`: `worker.cli.lazy.COMMANDS`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from worker import __version__
from worker.cli.lazy import LazyGroup
from worker.malloc import limit_arenas

app = typer.Typer(
    name="rei-sync",
    cls=LazyGroup,  # the commands, imported when run (worker/cli/lazy.py)
    help="Mirror REI API CCA listings, agents and catalogues into Postgres, "
    "holding a valid token for every brand.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags show as `--full`, not `--full <bool>`
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rei-sync {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Mirror REI API CCA data into Postgres. Configuration: environment and `.env`."""


def main() -> None:
    """Console-script entry point."""
    limit_arenas()  # before any thread: worker/malloc.py
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
