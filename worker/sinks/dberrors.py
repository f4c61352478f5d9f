"""Database errors at the sink boundary become `SinkError`, like every library error.

A connection lost mid-run (Postgres restarted, a pooler recycled) surfaces from
SQLAlchemy as `sqlalchemy.exc.DBAPIError` and from a raw psycopg cursor as
`psycopg.Error`; either way the caller sees one classified, retryable error whose
message is the driver's first line (never the SQL or its parameters).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa

from worker.errors import SinkError

C = TypeVar("C", bound=type)


class DatabaseUnavailableError(SinkError):
    """The database could not be reached or dropped the connection; a later run can succeed."""

    retryable = True


def translate(exc: BaseException, what: str) -> SinkError:
    original = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    first_line = (str(original).strip().splitlines() or [""])[0][:200]
    kind = type(original).__name__
    message = f"{what} failed: {kind}: {first_line}" if first_line else f"{what} failed: {kind}"
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
