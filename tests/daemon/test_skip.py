"""A scheduled run whose lease another replica holds is skipped, counted, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from tests.daemon.conftest import InProcessFactory
from worker.leases import LeaseStore, job_key
from worker.sandbox import SandboxConfig, SandboxServer

pytestmark = pytest.mark.slow

LABELS = {"brand": "AZURA", "entity": "properties", "reason": "lease_busy"}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=1, listings=50, associates=5), port=0).start() as srv:
        yield srv


def skipped() -> float:
    return REGISTRY.get_sample_value("rei_sync_scheduled_skipped_runs_total", LABELS) or 0.0


def runs(engine: sa.Engine) -> list[str]:
    with engine.connect() as c:
        return list(c.execute(sa.text("SELECT status FROM sync_runs ORDER BY id")).scalars())


def test_a_held_lease_skips_the_job_and_counts_it(
    sandbox: SandboxServer, inprocess_daemon: InProcessFactory, db_engine: sa.Engine
) -> None:
    other = LeaseStore(db_engine, holder="other-replica", ttl_seconds=300)
    key = job_key("AZURA", "properties")
    assert other.try_acquire(key) is not None
    daemon = inprocess_daemon(sandbox)
    before = skipped()

    assert daemon.run_sync_job("AZURA", "properties") is None
    assert skipped() == before + 1
    assert runs(db_engine) == []
    assert other.holder_of(key) == "other-replica"  # not taken over, not released

    other.release(key)
    result = daemon.run_sync_job("AZURA", "properties")
    assert result is not None
    assert result.status == "succeeded"
    assert skipped() == before + 1
    assert runs(db_engine) == ["succeeded"]
    assert other.holder_of(key) is None  # the daemon released its lease after the run


def test_a_run_that_waited_is_skipped_when_another_replica_finished_the_job_since(
    sandbox: SandboxServer, inprocess_daemon: InProcessFactory, db_engine: sa.Engine
) -> None:
    """Replica A fired the job, waited for a slot; replica B ran it meanwhile: A skips it."""
    other = inprocess_daemon(sandbox)
    daemon = inprocess_daemon(sandbox)
    labels = {**LABELS, "reason": "done_elsewhere"}
    before = REGISTRY.get_sample_value("rei_sync_scheduled_skipped_runs_total", labels) or 0.0
    with db_engine.connect() as c:
        fired_at = float(c.execute(sa.text("SELECT extract(epoch FROM now())")).scalar_one())
    done = other.run_sync_job("AZURA", "properties")
    assert done is not None
    assert done.status == "succeeded"

    assert daemon.run_sync_job("AZURA", "properties", fired_at) is None
    after = REGISTRY.get_sample_value("rei_sync_scheduled_skipped_runs_total", labels)
    assert after == before + 1
    assert runs(db_engine) == ["succeeded"]
    # Fired after that run finished: it runs.
    with db_engine.connect() as c:
        later = float(c.execute(sa.text("SELECT extract(epoch FROM now())")).scalar_one())
    result = daemon.run_sync_job("AZURA", "properties", later)
    assert result is not None
    assert result.status == "succeeded"
    assert runs(db_engine) == ["succeeded", "succeeded"]
