"""Database errors at the sink boundary become `SinkError`, like every library error.

A connection lost mid-run (Postgres restarted, a pooler recycled) surfaces from
SQLAlchemy as `sqlalchemy.exc.DBAPIError` and from a raw psycopg cursor as
`psycopg.Error`; either way the caller sees one classified, retryable error.

The message is the error class, its SQLSTATE and the server's primary message only:
never the SQL or its parameters, never the DETAIL, CONTEXT or HINT lines (a COPY's
CONTEXT quotes the offending row's value, a unique violation's DETAIL its key), and,
for data and integrity errors (SQLSTATE classes 22 and 23), no quoted text either
(`value "…" is out of range for type integer` quotes the value). It ends up in logs
and in `sync_runs.error`, where a private value must never be.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa

from worker.errors import DatabaseUnavailableError, SinkError

C = TypeVar("C", bound=type)


MAX_MESSAGE_CHARS = 200
_TRAILERS = re.compile(r"\b(?:CONTEXT|DETAIL|HINT)\b|\[SQL|\[parameters", re.IGNORECASE)
_QUOTED = re.compile(r'"[^"]*"?')
_VALUE_CLASSES = ("22", "23")
"""SQLSTATE classes whose primary message may quote a value: data exception, integrity."""


def _sqlstate(error: BaseException) -> str | None:
    return getattr(error, "sqlstate", None) if isinstance(error, psycopg.Error) else None


def _may_quote_values(error: BaseException) -> bool:
    if not isinstance(error, psycopg.Error):
        return True
    if isinstance(error, psycopg.DataError | psycopg.IntegrityError):
        return True
    sqlstate = _sqlstate(error)
    return sqlstate is not None and sqlstate[:2] in _VALUE_CLASSES


def _primary(error: BaseException) -> str:
    """The primary message of `error`, without anything that may carry row values."""
    diag = error.diag.message_primary if isinstance(error, psycopg.Error) else None
    text = diag or (str(error).strip().splitlines() or [""])[0]
    trailer = _TRAILERS.search(text)
    if trailer:
        text = text[: trailer.start()]
    if _may_quote_values(error):
        text = _QUOTED.sub('"…"', text)
    return text.strip().rstrip(":").strip()[:MAX_MESSAGE_CHARS]


def translate(exc: BaseException, what: str) -> SinkError:
    original = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    kind = type(original).__name__
    sqlstate = _sqlstate(original)
    if sqlstate:
        kind = f"{kind} (SQLSTATE {sqlstate})"
    primary = _primary(original)
    message = f"{what} failed: {kind}: {primary}" if primary else f"{what} failed: {kind}"
    if isinstance(original, psycopg.OperationalError | psycopg.InterfaceError) or isinstance(
        exc, sa.exc.OperationalError | sa.exc.InterfaceError
    ):
        return DatabaseUnavailableError(message)
    return SinkError(message)


def translate_db_errors(cls: C) -> C:
    """Wrap every public method defined on `cls`: database errors become `SinkError`."""
    for name, method in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(method):
            continue
        setattr(cls, name, _wrapped(method, f"{cls.__name__}.{name}"))
    return cls


def _wrapped(method: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (psycopg.Error, sa.exc.DBAPIError) as exc:
            raise translate(exc, what) from exc

    return call
