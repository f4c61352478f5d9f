"""What every `rei-sync` command shares: the consoles, settings with logging set up, and
the mapping of errors to exit codes (bad configuration → 2, any other error of ours → 1).

Messages are one line on stderr and pass through the secret scrubber.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import psycopg
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.text import Text

from worker.config import Settings, load_settings, read_environment, unknown_variables
from worker.errors import ConfigError, ReiSyncError
from worker.log import configure_logging, get_logger, redactor
from worker.safe_text import visible

log = get_logger(__name__)

PIPE_WIDTH = 10_000
"""Columns when printing to a pipe or a file: tables as wide as their content, never cut."""


def console(*, stderr: bool = False) -> Console:
    """A console for stdout (or stderr). On a terminal it has the terminal's width; to a
    pipe or a file (`rei-sync runs | grep`, a cron log) it is as wide as the content, so
    no cell is cut to `AZU…` (an explicit `COLUMNS` still wins)."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, soft_wrap=True, width=PIPE_WIDTH if piped else None)


out = console()
err = console(stderr=True)


def safe(value: object, style: str = "") -> Text:
    """`value` as a rich `Text`: no markup, no emoji codes, no control characters
    (`worker.safe_text` says why)."""
    return Text(visible(value), style=style)


def json_option(help: str) -> Any:
    """`--json`: print the command's document as JSON (`help` says which)."""
    return typer.Option("--json", help=help)


def write_json(document: object) -> None:
    """Plain bytes on stdout: a rich Console would still turn `:x:` into an emoji."""
    write_plain(json.dumps(document, indent=2))


def write_plain(text: str) -> None:
    """One document on stdout as it is, never through rich."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def fail(code: int, message: str) -> NoReturn:
    err.print(safe(redactor.scrub(message)), highlight=False)
    raise typer.Exit(code)


def config_error_lines(exc: ConfigError) -> list[str]:
    """`config error: VARIABLE: problem`, one line per problem, scrubbed."""
    return [redactor.scrub(f"config error: {problem}") for problem in exc.problems]


def fail_config(exc: ConfigError) -> NoReturn:
    for line in config_error_lines(exc):
        err.print(line, markup=False, highlight=False)
    raise typer.Exit(2)


@contextmanager
def domain_errors() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        fail_config(exc)
    except ReiSyncError as exc:
        fail(1, f"error: {exc}")
    except (sa.exc.SQLAlchemyError, psycopg.Error) as exc:
        fail(1, f"error: database: {database_error(exc)}")


def database_error(exc: BaseException) -> str:
    """The driver's first line (`connection failed: … Connection refused`), no SQL, no URL."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


def command_settings(
    require_brands: bool = True, *, with_brands: bool = True, require_database: bool = True
) -> Settings:
    """Settings from the environment and `.env`, with logging configured to redact them.

    `require_database`: the command touches data (see `load_settings`). Variables that look
    like ours but match no setting are logged as warnings, with the closest real name.
    """
    settings = load_settings(
        require_brands=require_brands, with_brands=with_brands, require_database=require_database
    )
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())
    warn_unknown_variables()
    return settings


def warn_unknown_variables() -> None:
    for name, suggestion in unknown_variables(read_environment()):
        hint = f" (did you mean {suggestion}?)" if suggestion else ""
        log.warning(
            "config.unknown_variable",
            variable=name,
            did_you_mean=suggestion,
            message=f"{name} is not a rei-sync setting and is ignored{hint}",
        )
