"""Supabase fixtures: a real pgbouncer in `pool_mode = transaction` in front of the test
Postgres (what Supabase's pooler is), and databases reached through it.

pgbouncer (Debian package `pgbouncer`, installed by `.ci/run`) runs as a subprocess on a
free loopback port with its files in a temp folder; as root it drops to `nobody` (it
refuses to run as root). It is polled until it accepts connections and stopped at the
end of the session. Without the binary these tests skip, saying so.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import psycopg
import pytest
import sqlalchemy as sa

from worker.db.engine import create_db_engine, libpq_url

POOLER_START_SECONDS = 15.0


def _pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _backend(server_url: str) -> tuple[str, int, str]:
    """(host or socket folder, port, user) of the test Postgres."""
    parts = urlsplit(server_url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    return host, port, parts.username or "postgres"


def _unprivileged_user(host: str) -> str:
    """`nobody`, or for a unix-socket backend (the embedded server) the socket folder's owner,
    who is sure to be allowed to connect to it."""
    if host.startswith("/"):
        owner = pwd.getpwuid(os.stat(host).st_uid).pw_name
        if owner != "root":
            return owner
    return "nobody"


class Pooler:
    """A running pgbouncer: `url_for(db_url)` is the same database reached through it."""

    def __init__(self, port: int, user: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.user = user
        self.process = process
        self.log = log

    def url_for(self, database_url: str) -> str:
        parts = urlsplit(libpq_url(database_url))
        return urlunsplit(("postgresql", f"{self.user}@127.0.0.1:{self.port}", parts.path, "", ""))

    def show(self, what: str) -> list[tuple[object, ...]]:
        """`SHOW <what>` on pgbouncer's admin console (e.g. `CONFIG`, `POOLS`)."""
        with psycopg.connect(
            f"postgresql://{self.user}@127.0.0.1:{self.port}/pgbouncer",
            autocommit=True,
            prepare_threshold=None,
        ) as connection:
            return list(connection.execute(f"SHOW {what}").fetchall())


def _wait_accepting(pooler: Pooler, backend_db_url: str) -> None:
    deadline = time.monotonic() + POOLER_START_SECONDS
    last: Exception | None = None
    while time.monotonic() < deadline:
        if pooler.process.poll() is not None:
            pytest.fail(f"pgbouncer exited {pooler.process.returncode}: {pooler.log.read_text()}")
        try:
            with psycopg.connect(
                pooler.url_for(backend_db_url), connect_timeout=2, prepare_threshold=None
            ) as connection:
                connection.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            last = exc
        # polling with a deadline, not waiting for time to pass
        time.sleep(0.05)
    pytest.fail(f"pgbouncer never accepted connections: {last}\n{pooler.log.read_text()}")


@pytest.fixture(scope="session")
def pgbouncer(pg_server_url: str) -> Iterator[Pooler]:
    binary = _pgbouncer_binary()
    if binary is None:
        message = "pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)"
        if os.environ.get("TEST_DATABASE_URL"):
            pytest.fail(message)  # CI's mode: these tests must run
        pytest.skip(message)
    host, port, user = _backend(pg_server_url)
    folder = Path(tempfile.mkdtemp(prefix="rei-sync-pgbouncer-"))
    folder.chmod(0o755)
    listen = _free_port()
    log = folder / "pgbouncer.log"
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={host} port={port} user={user}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {listen}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'userlist.txt'}\n"
        f"admin_users = {user}\n"
        "pool_mode = transaction\n"
        "default_pool_size = 6\n"
        "max_client_conn = 400\n"
        "server_reset_query =\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {log}\n"
    )
    (folder / "userlist.txt").write_text(f'"{user}" ""\n')
    log.touch()
    command = [binary, str(ini)]
    if os.geteuid() == 0:  # pgbouncer refuses root
        runner = _unprivileged_user(host)
        shutil.chown(log, runner)
        command[1:1] = ["-u", runner]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    pooler = Pooler(listen, user, process, log)
    try:
        _wait_accepting(pooler, libpq_url(pg_server_url).split("?")[0])
        yield pooler
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pooled_db_url(pgbouncer: Pooler, migrated_db_url: str) -> str:
    """A fresh migrated database, reached through pgbouncer in transaction mode."""
    return pgbouncer.url_for(migrated_db_url)


@pytest.fixture
def pooled_engine(pooled_db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(pooled_db_url, pooler="transaction")
    yield engine
    engine.dispose()
