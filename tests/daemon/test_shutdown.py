"""Shutdown bounds: a clean shutdown exits 0 within the grace even with a request in flight;
one that runs out of grace marks the runs still going `aborted` before exiting 1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import requests
import sqlalchemy as sa

from tests.daemon.conftest import DaemonFactory, InProcessFactory, wait_for
from worker.sandbox import SandboxConfig, SandboxServer

pytestmark = pytest.mark.slow

EnvFactory = Callable[..., dict[str, str]]
GRACE = 6


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(seed=1, listings=20, associates=5, token_ttl=4)
    with SandboxServer(config, port=0).start() as server:
        yield server


def auth_calls(sandbox: SandboxServer) -> int:
    stats = requests.get(f"{sandbox.admin_url}/stats", timeout=5).json()
    return int(sum(stats["auth_calls"].values()))


def test_sigterm_during_a_slow_token_request_exits_0_within_the_grace(
    sandbox: SandboxServer, daemon_env: EnvFactory, start_daemon: DaemonFactory
) -> None:
    env = daemon_env(
        sandbox,
        REI_BRANDS="AZURA",
        TOKEN_REFRESH_BUFFER_MINUTES="1",  # 4 s tokens: the token job renews every run
        SHUTDOWN_GRACE_SECONDS=str(GRACE),
    )
    daemon = start_daemon(env)
    wait_for(lambda: daemon.get("/readyz").status_code == 200, 30, "readyz 200")
    requests.post(
        f"{sandbox.admin_url}/faults", json={"token_latency_seconds": 20}, timeout=5
    ).raise_for_status()
    before = auth_calls(sandbox)
    wait_for(lambda: auth_calls(sandbox) > before, 20, "a token request in flight (20 s slow)")

    sent = time.monotonic()
    code = daemon.terminate(timeout=30)
    took = time.monotonic() - sent
    assert code == 0, "".join(daemon.raw)[-3000:]
    assert took < GRACE, f"exit took {took:.1f}s, grace {GRACE}s"
    assert daemon.events("daemon.stopped")[0]["clean"] is True


def test_a_run_outliving_the_grace_is_marked_aborted(
    sandbox: SandboxServer,
    inprocess_daemon: InProcessFactory,
    db_engine: sa.Engine,
) -> None:
    """In-process: the run row is started, then the job ignores its stop event."""
    daemon = inprocess_daemon(sandbox)
    with db_engine.begin() as c:
        run_id = c.execute(
            sa.text(
                "INSERT INTO sync_runs (brand, entity, mode, status, pages, seen, checkpoint) "
                "VALUES ('AZURA', 'associates', 'scheduled', 'running', 2, 10, 40) RETURNING id"
            )
        ).scalar_one()
    daemon._active.events["sync:AZURA:associates"] = daemon.stopping  # never cleared
    daemon._active.jobs["sync:AZURA:associates"] = ("AZURA", "associates")

    assert daemon.shutdown(grace_seconds=0) is False
    with db_engine.connect() as c:
        row = c.execute(
            sa.text("SELECT status, checkpoint, seen, error FROM sync_runs WHERE id = :id"),
            {"id": run_id},
        ).one()
    assert row.status == "aborted"
    assert row.checkpoint == 40
    assert row.seen == 10
    assert "grace" in row.error
