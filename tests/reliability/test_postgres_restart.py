"""Scenario 5: Postgres restarted mid-sync. With TEST_DATABASE_URL (CI) the machine's cluster
is restarted with `pg_ctlcluster`; otherwise a private embedded server is stopped and started.
The interrupted run fails (or retries) cleanly, the next one converges.

The restart is guarded by a file lock (never two at once on this machine), keeps the
server down only while the sync notices, and always starts it again in `finally`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import (
    Figures,
    Reference,
    SandboxFactory,
    WorldFactory,
    auth_calls,
    run_figures,
)
from worker.db.embedded import start_embedded_postgres, stop_embedded_postgres
from worker.db.engine import create_db_engine, libpq_url
from worker.db.migrate import upgrade_head
from worker.errors import ReiSyncError
from worker.sync.engine import RunResult

LOCK = Path(tempfile.gettempdir()) / "rei-sync-reliability-pg-restart.lock"
DEADLINE_SECONDS = 60
POLL_SECONDS = 0.02


@contextmanager
def exclusive_restart() -> Iterator[None]:
    with LOCK.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def wait_until_up(url: str) -> None:
    pause = threading.Event()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(libpq_url(url), connect_timeout=2) as c:
                c.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            pause.wait(0.1)
    raise AssertionError("Postgres did not come back")


class Cluster:
    kind = ""

    def stop(self) -> None: ...

    def start(self) -> None: ...


class SystemCluster(Cluster):
    kind = "system cluster (pg_ctlcluster)"

    def __init__(self) -> None:
        versions = sorted(os.listdir("/etc/postgresql"))
        assert versions, "TEST_DATABASE_URL is set but /etc/postgresql holds no cluster"
        self.version = versions[0]

    def _ctl(self, action: str, *extra: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action, *extra],
            check=True,
            capture_output=True,
            timeout=DEADLINE_SECONDS,
        )

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def start(self) -> None:
        status = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", "status"],
            capture_output=True,
            timeout=DEADLINE_SECONDS,
        )
        if status.returncode != 0:
            self._ctl("start")


class EmbeddedCluster(Cluster):
    kind = "embedded server (stopped and started)"

    def __init__(self, home: Path) -> None:
        self.home = home
        self.url = start_embedded_postgres(home)

    def stop(self) -> None:
        stop_embedded_postgres(self.home)

    def start(self) -> None:
        self.url = start_embedded_postgres(self.home)


@pytest.fixture
def cluster_db(migrated_db_url: str) -> Iterator[tuple[Cluster, str]]:
    """(the server to restart, a migrated database on it)."""
    if os.environ.get("TEST_DATABASE_URL"):
        cluster = SystemCluster()
        with exclusive_restart():
            try:
                yield cluster, migrated_db_url
            finally:
                cluster.start()
                wait_until_up(migrated_db_url)
        return
    home = Path(tempfile.mkdtemp(prefix="rei-sync-restart-pg-"))
    home.chmod(0o755)
    embedded = EmbeddedCluster(home)
    try:
        with psycopg.connect(embedded.url, autocommit=True) as c:
            c.execute("CREATE DATABASE restart_test")
        url = embedded.url.replace("/postgres?", "/restart_test?", 1)
        if url == embedded.url:
            from tests.conftest import with_database

            url = with_database(embedded.url, "restart_test")
        engine = create_db_engine(url)
        try:
            upgrade_head(engine)
        finally:
            engine.dispose()
        yield embedded, url
    finally:
        embedded.start()
        stop_embedded_postgres(home)
        shutil.rmtree(home, ignore_errors=True)


def test_postgres_restarted_mid_sync_fails_cleanly_and_the_next_run_converges(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
    cluster_db: tuple[Cluster, str],
) -> None:
    expected = reference.of_config(ledger)
    cluster, db_url = cluster_db
    server = make_sandbox(latency_ms=30)
    world = make_world(server, db_url=db_url)
    outcome: list[list[RunResult] | BaseException] = []

    def interrupted_sync() -> None:
        try:
            outcome.append(world.sync_all())
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=interrupted_sync, daemon=True)
    pause = threading.Event()
    probe = create_db_engine(db_url)
    restarted = False
    down_seconds = 0.0
    try:
        worker.start()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and worker.is_alive():
            with probe.connect() as c:
                checkpoint = c.execute(
                    sa.text("SELECT max(checkpoint) FROM sync_runs WHERE status = 'running'")
                ).scalar()
            if (checkpoint or 0) >= 40:
                break
            pause.wait(POLL_SECONDS)
        assert worker.is_alive(), "the sync ended before the restart"
        probe.dispose()
        down_at = time.monotonic()
        try:
            cluster.stop()
            restarted = True
        finally:
            cluster.start()
            wait_until_up(db_url)
            down_seconds = time.monotonic() - down_at
        worker.join(DEADLINE_SECONDS)
        assert not worker.is_alive(), "the interrupted sync never ended"
    finally:
        probe.dispose()
    first = outcome[0]
    interrupted = [] if isinstance(first, BaseException) else first
    failure = repr(first) if isinstance(first, BaseException) else None
    # the next run, on the same worker (its pool holds connections the restart killed)
    converged = world.sync_all()
    got = world.checksum()
    statuses = dict(
        world.engine.connect()
        .execute(sa.text("SELECT status, count(*) FROM sync_runs GROUP BY status"))
        .all()
    )
    figures.record(
        5,
        "Postgres restarted mid-sync",
        injected=f"{cluster.kind}, while a properties scan was past checkpoint 40",
        times=1 if restarted else 0,
        **run_figures([*interrupted, *converged]),
        retries=world.retries,
        token_requests=auth_calls(server),
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "seconds down": round(down_seconds, 1),
            "interrupted sync ended with": failure
            or ", ".join(sorted({r.status for r in interrupted})),
            "run rows by status": statuses,
        },
    )
    assert restarted
    if isinstance(first, BaseException):
        assert isinstance(first, ReiSyncError), f"unclassified error escaped: {failure}"
    else:
        assert any(r.status == "failed" for r in interrupted) or all(
            r.status == "succeeded" for r in interrupted
        )
    assert [r.status for r in converged] == ["succeeded"] * len(converged), [
        r.error for r in converged
    ]
    assert statuses.get("running", 0) == 0
    assert got == expected, f"differs in {got.differences(expected)}"
