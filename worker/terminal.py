"""What every `rei-sync` command shares: the consoles, settings with logging set up, and
the mapping of errors to exit codes (bad configuration → 2, any other error of ours → 1).

Messages are one line on stderr and pass through the secret scrubber.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import psycopg
import sqlalchemy as sa
import typer
from rich.console import Console

from worker.config import Settings, load_settings
from worker.errors import ConfigError, ReiSyncError
from worker.log import configure_logging, redactor
from worker.safe_text import safe

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(code: int, message: str) -> NoReturn:
    err.print(safe(redactor.scrub(message)), highlight=False)
    raise typer.Exit(code)


@contextmanager
def domain_errors() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        fail(2, f"config error: {exc}")
    except ReiSyncError as exc:
        fail(1, f"error: {exc}")
    except (sa.exc.SQLAlchemyError, psycopg.Error) as exc:
        fail(1, f"error: database: {database_error(exc)}")


def database_error(exc: BaseException) -> str:
    """The driver's first line (`connection failed: … Connection refused`), no SQL, no URL."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


def command_settings(require_brands: bool = True, *, with_brands: bool = True) -> Settings:
    """Settings from the environment and `.env`, with logging configured to redact them."""
    settings = load_settings(require_brands=require_brands, with_brands=with_brands)
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())
    return settings
