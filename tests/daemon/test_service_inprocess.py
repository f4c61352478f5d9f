"""The daemon's bookkeeping in-process (no scheduler thread): metrics, readiness, failures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from tests.daemon.conftest import InProcessFactory
from tests.feed.retention import insert_old_and_new_rejects
from worker.alerts import Alerter, AlertKind
from worker.auth import TokenState
from worker.db.schema import RunStart
from worker.errors import SinkError
from worker.leases import LeaseStore
from worker.probes import TOKEN_STARTUP_GRACE_SECONDS
from worker.sandbox import SandboxConfig, SandboxServer
from worker.service import RETENTION_JOB

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=1, listings=20, associates=5), port=0).start() as srv:
        yield srv


def gauge(name: str, brand: str, entity: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"brand": brand, "entity": entity})


def test_last_success_baseline_survives_a_restart(
    sandbox: SandboxServer, inprocess_daemon: InProcessFactory, db_engine: sa.Engine
) -> None:
    with db_engine.begin() as c:
        old = c.execute(
            sa.text(
                "INSERT INTO sync_runs (brand, entity, mode, status, started_at, finished_at) "
                "VALUES ('AZURA', 'associates', 'scheduled', 'succeeded', "
                "now() - interval '2 days 1 minute', now() - interval '2 days') "
                "RETURNING extract(epoch FROM finished_at)"
            )
        ).scalar_one()
    daemon = inprocess_daemon(sandbox)
    daemon.publish_job_gauges()
    name = "rei_sync_scheduled_last_success_timestamp_seconds"
    assert gauge(name, "AZURA", "associates") == pytest.approx(float(old), abs=1)
    # A job that never succeeded starts from this start (the alert's grace).
    assert gauge(name, "BLUE_OCEAN", "associates") == daemon.started_at
    # brandz keeps its own start-up grace: a fresh process is not unhealthy for old history.
    assert daemon.brandz().checks["sync:AZURA:associates"] == "ok"


class RecordingAlerter(Alerter):
    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9/never-posted")
        self.sent: list[tuple[AlertKind, str, str]] = []

    def send(self, kind: AlertKind, brand: str, text: str) -> bool:
        self.sent.append((kind, brand, text))
        return True


def failed_runs(brand: str, entity: str) -> float:
    labels = {"brand": brand, "entity": entity, "mode": "scheduled", "status": "failed"}
    return REGISTRY.get_sample_value("rei_sync_runs_total", labels) or 0.0


def test_errors_outside_the_run_count_as_failed_runs_and_alert(
    sandbox: SandboxServer,
    inprocess_daemon: InProcessFactory,
    db_engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alerter = RecordingAlerter()
    daemon = inprocess_daemon(sandbox, alerter=alerter)
    before = failed_runs("AZURA", "geo")

    def lease_db_down(key: str) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    def ledger_refuses(start: RunStart) -> int:
        raise SinkError("could not write sync_runs\nsecond line")

    monkeypatch.setattr(daemon.leases, "try_acquire", lease_db_down)
    assert daemon.run_sync_job("AZURA", "geo") is None
    assert daemon.run_sync_job("AZURA", "geo") is None
    monkeypatch.undo()
    monkeypatch.setattr(daemon.sink, "start_run", ledger_refuses)
    assert daemon.run_sync_job("AZURA", "geo") is None  # inside the lease this time

    assert failed_runs("AZURA", "geo") == before + 3
    assert gauge("rei_sync_scheduled_consecutive_failures", "AZURA", "geo") == 3
    assert [(k, b) for k, b, _ in alerter.sent] == [(AlertKind.REPEATED_SYNC_FAILURE, "AZURA")]
    assert "geo failed 3 times in a row" in alerter.sent[0][2]
    with db_engine.connect() as c:  # the lease taken by the third attempt was released
        assert c.execute(sa.text("SELECT count(*) FROM job_leases")).scalar_one() == 0


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_readyz_needs_a_running_scheduler_and_brandz_a_token_after_the_grace(
    sandbox: SandboxServer, inprocess_daemon: InProcessFactory
) -> None:
    clock = FakeClock()
    daemon = inprocess_daemon(sandbox)
    daemon.clock, daemon.started_at = clock, clock()

    before = daemon.readyz()  # built, scheduler not started yet
    assert not before.ok
    assert before.checks["scheduler"] == "not running"

    daemon.scheduler.start(paused=True)
    try:
        # No token yet (nothing has run): fine during the start-up grace only.
        assert daemon.tokens.status()[0].state is TokenState.MISSING
        assert daemon.readyz().ok, daemon.readyz().checks
        assert daemon.brandz().ok, daemon.brandz().checks
        clock.now += TOKEN_STARTUP_GRACE_SECONDS
        late = daemon.brandz()
        assert not late.ok
        assert late.checks["token:AZURA"] == "missing"
        assert late.checks["token:BLUE_OCEAN"] == "missing"
        assert daemon.readyz().ok, "a brand without a token never makes the process unready"

        daemon.tokens.get_valid_token("AZURA")
        daemon.tokens.get_valid_token("BLUE_OCEAN")
        assert daemon.brandz().ok, daemon.brandz().checks

        daemon.stopping.set()  # shutting down: no longer ready, though the scheduler runs
        stopping = daemon.readyz()
        assert not stopping.ok
        assert stopping.checks["scheduler"] == "stopping"
    finally:
        daemon.scheduler.shutdown(wait=False)


def test_the_retention_job_prunes_under_its_lease_and_skips_while_another_holds_it(
    sandbox: SandboxServer, inprocess_daemon: InProcessFactory, db_engine: sa.Engine
) -> None:
    insert_old_and_new_rejects(db_engine)
    daemon = inprocess_daemon(sandbox, RETENTION_DAYS="90")
    other_replica = LeaseStore(db_engine, holder="other-replica", ttl_seconds=60)
    held = other_replica.try_acquire(RETENTION_JOB)
    assert held is not None
    assert daemon.run_retention_job() is None  # the other replica prunes
    held.release()
    assert daemon.run_retention_job() == (0, 1)
    assert daemon.leases.holder_of(RETENTION_JOB) is None  # released after the prune
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT reason FROM sync_rejects")).scalars().all() == ["new"]
    daemon.stopping.set()
    assert daemon.run_retention_job() is None  # a stopping daemon starts nothing new
