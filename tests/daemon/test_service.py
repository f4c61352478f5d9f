"""The daemon as a subprocess: probes, token renewal, SIGTERM mid-sync, two replicas on one DB."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import requests
import sqlalchemy as sa

from tests.daemon.conftest import DaemonFactory, wait_for
from worker.sandbox import SandboxConfig, SandboxServer

pytestmark = pytest.mark.slow

EnvFactory = Callable[..., dict[str, str]]


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    """Sandbox knobs come from `@pytest.mark.parametrize("sandbox", [{...}], indirect=True)`."""
    options = getattr(request, "param", {})
    config = SandboxConfig(seed=1, listings=100, associates=10, **options)
    with SandboxServer(config, port=0).start() as server:
        yield server


def stats(sandbox: SandboxServer) -> dict[str, int]:
    body = requests.get(f"{sandbox.admin_url}/stats", timeout=5).json()
    return dict(body["auth_calls"])


def set_keys_revoked(sandbox: SandboxServer, brand: str, revoked: bool) -> None:
    response = requests.post(
        f"{sandbox.admin_url}/keys", json={"brand": brand, "revoked": revoked}, timeout=5
    )
    response.raise_for_status()


@pytest.mark.parametrize("sandbox", [{"token_ttl": 4}], indirect=True)
def test_refused_keys_show_on_brandz_and_never_make_the_process_unready(
    sandbox: SandboxServer, daemon_env: EnvFactory, start_daemon: DaemonFactory
) -> None:
    daemon = start_daemon(daemon_env(sandbox, TOKEN_REFRESH_BUFFER_MINUTES="1"))
    # The server listens before the scheduler starts, and says 503 until it has.
    wait_for(lambda: daemon.get("/healthz").status_code == 200, 20, "healthz 200")
    wait_for(lambda: daemon.get("/readyz").status_code == 200, 20, "readyz 200")
    metrics = daemon.get("/metrics")
    assert metrics.headers["Content-Type"].startswith("text/plain")
    assert "rei_sync_scheduler_running 1.0" in metrics.text
    assert 'rei_sync_token_expiry_timestamp_seconds{brand="AZURA"}' in metrics.text
    assert "rei_sync_build_info{" in metrics.text
    assert daemon.get("/nope").status_code == 404
    for path in ("/healthz", "/readyz", "/brandz", "/metrics"):
        head = requests.head(daemon.url + path, timeout=5)
        assert head.status_code == daemon.get(path).status_code, path
        assert head.content == b""
        assert int(head.headers["Content-Length"]) > 0
    negotiated = requests.get(
        daemon.url + "/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
        timeout=5,
    )
    assert negotiated.headers["Content-Type"].startswith("application/openmetrics-text")
    assert negotiated.text.rstrip().endswith("# EOF")

    # 4 s tokens: the token job renews each brand before expiry, never letting it lapse.
    wait_for(lambda: min(stats(sandbox).values()) >= 3, 20, "three token requests per brand")
    assert daemon.get("/readyz").status_code == 200
    wait_for(lambda: daemon.get("/brandz").status_code == 200, 20, "brandz 200")

    set_keys_revoked(sandbox, "AZURA", True)
    unhealthy = wait_for(
        lambda: (r := daemon.get("/brandz")).status_code == 503 and r.json(), 20, "brandz 503"
    )
    assert unhealthy["checks"]["token:AZURA"] in ("failed", "expired")
    assert unhealthy["checks"]["token:BLUE_OCEAN"] == "ok"
    # One brand's refused keys say nothing about whether this process can work.
    ready = daemon.get("/readyz")
    assert ready.status_code == 200
    assert set(ready.json()["checks"]) == {"scheduler", "database"}

    set_keys_revoked(sandbox, "AZURA", False)
    wait_for(lambda: daemon.get("/brandz").status_code == 200, 30, "brandz 200 again")
    assert daemon.terminate() == 0


@pytest.mark.parametrize("sandbox", [{"latency_ms": 40}], indirect=True)
def test_sigterm_mid_sync_commits_the_batch_and_aborts_the_run(
    sandbox: SandboxServer,
    daemon_env: EnvFactory,
    start_daemon: DaemonFactory,
    db_engine: sa.Engine,
) -> None:
    env = daemon_env(
        sandbox,
        RUN_AT_START="1",
        SYNC_PROPERTIES_SCHEDULE="1h",
        REI_PAGE_SIZE="5",
        SHUTDOWN_GRACE_SECONDS="10",
        REI_BRANDS="AZURA",
    )
    daemon = start_daemon(env)

    def running_with_progress() -> bool:
        with db_engine.connect() as c:
            return bool(
                c.execute(
                    sa.text("SELECT 1 FROM sync_runs WHERE status = 'running' AND pages > 0")
                ).first()
            )

    wait_for(running_with_progress, 30, "a running sync with committed pages")
    sent = time.monotonic()
    assert daemon.terminate(timeout=15) == 0
    assert time.monotonic() - sent < 10
    with db_engine.connect() as c:
        run = c.execute(sa.text("SELECT status, checkpoint, pages FROM sync_runs")).one()
        leases = c.execute(sa.text("SELECT count(*) FROM job_leases")).scalar_one()
    assert run.status == "aborted"
    assert run.checkpoint is not None
    assert run.checkpoint > 0
    assert leases == 0


@pytest.mark.parametrize("sandbox", [{"token_ttl": 3600}], indirect=True)
def test_two_replicas_never_overlap_a_job_and_share_one_token_per_brand(
    sandbox: SandboxServer,
    daemon_env: EnvFactory,
    start_daemon: DaemonFactory,
    db_engine: sa.Engine,
) -> None:
    env = daemon_env(
        sandbox,
        RUN_AT_START="1",
        SYNC_PROPERTIES_SCHEDULE="2s",
        SYNC_ASSOCIATES_SCHEDULE="2s",
    )
    first, second = start_daemon(env), start_daemon(env)

    def finished_runs() -> int:
        with db_engine.connect() as c:
            counts = c.execute(
                sa.text(
                    "SELECT count(*) FROM sync_runs WHERE status LIKE 'succeeded%' "
                    "GROUP BY brand, entity"
                )
            ).scalars()
            values = list(counts)
        return min(values) if len(values) == 4 else 0

    wait_for(lambda: finished_runs() >= 3, 40, "three successful runs of every job")
    assert first.terminate() == 0
    assert second.terminate() == 0

    with db_engine.connect() as c:
        overlaps = c.execute(
            sa.text(
                """
                SELECT a.brand, a.entity, a.id, b.id FROM sync_runs a JOIN sync_runs b
                  ON a.brand = b.brand AND a.entity = b.entity AND a.id < b.id
                 AND tstzrange(a.started_at, a.finished_at)
                  && tstzrange(b.started_at, b.finished_at)
                """
            )
        ).all()
    assert overlaps == []
    assert stats(sandbox) == {"AZURA": 1, "BLUE_OCEAN": 1}
    assert first.events("daemon.stopped")
    assert second.events("daemon.stopped")
