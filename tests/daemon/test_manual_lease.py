"""Manual `rei-sync sync` takes the daemon job's lease: busy → exit 1 at once, `--wait` → waits."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.daemon.conftest import wait_for
from worker.leases import LeaseStore, job_key
from worker.sandbox import SandboxConfig, SandboxServer
from worker.scheduler import Schedule, SyncJob

pytestmark = pytest.mark.slow

KEY = job_key("AZURA", "properties")
COMMAND = [sys.executable, "-m", "worker", "sync", "--brand", "AZURA", "--entity", "properties"]
EnvFactory = Callable[..., dict[str, str]]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=1, listings=50, associates=5), port=0).start() as srv:
        yield srv


@pytest.fixture
def held(db_engine: sa.Engine) -> LeaseStore:
    """The test process as another replica holding AZURA/properties."""
    store = LeaseStore(db_engine, holder="test-holder", ttl_seconds=300)
    assert store.try_acquire(KEY) is not None
    return store


def run_rows(engine: sa.Engine) -> list[str]:
    with engine.connect() as c:
        return list(c.execute(sa.text("SELECT status FROM sync_runs ORDER BY id")).scalars())


def test_the_daemon_job_and_the_manual_command_share_one_key() -> None:
    job = SyncJob("AZURA", "properties", Schedule("15m", interval_seconds=900))
    assert job.key == KEY == "sync:AZURA:properties"


def test_sync_fails_fast_with_one_line_when_the_lease_is_held(
    held: LeaseStore,
    sandbox: SandboxServer,
    daemon_env: EnvFactory,
    db_engine: sa.Engine,
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        COMMAND,
        env=daemon_env(sandbox),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 1, run.stderr
    lines = [line for line in run.stderr.splitlines() if not line.startswith("{")]
    assert lines == [
        f"error: job {KEY} is running elsewhere (lease held by test-holder); "
        "try again later or pass --wait"
    ]
    assert run_rows(db_engine) == []
    assert held.holder_of(KEY) == "test-holder"
    assert all(v not in run.stdout + run.stderr for v in sandbox.env().values() if "http" not in v)


def test_sync_with_wait_runs_once_the_holder_releases(
    held: LeaseStore,
    sandbox: SandboxServer,
    daemon_env: EnvFactory,
    db_engine: sa.Engine,
    tmp_path: Path,
) -> None:
    proc = subprocess.Popen(
        [*COMMAND, "--wait"],
        env=daemon_env(sandbox),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: stderr.extend(proc.stderr or []), daemon=True)
    reader.start()
    try:

        def waiting() -> bool:
            assert proc.poll() is None, "".join(stderr)
            return any(f"waiting for job {KEY} (lease held by test-holder)" in s for s in stderr)

        wait_for(waiting, 60, "the command to report that it waits for the lease")
        assert run_rows(db_engine) == []  # still waiting: nothing ran under our lease
        held.release(KEY)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    reader.join(10)
    assert proc.returncode == 0, "".join(stderr)
    assert proc.stdout is not None
    assert "sync summary" in proc.stdout.read()
    assert run_rows(db_engine) == ["succeeded"]
    assert held.holder_of(KEY) is None  # the command released its lease at exit
