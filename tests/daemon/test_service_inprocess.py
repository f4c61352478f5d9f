"""The daemon's bookkeeping in-process (no scheduler thread): metrics, readiness, failures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from tests.daemon.conftest import InProcessFactory
from worker.sandbox import SandboxConfig, SandboxServer

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
    # readyz keeps its own start-up grace: a fresh process is not unready for old history.
    assert daemon.readyz().checks["sync:AZURA:associates"] == "ok"
