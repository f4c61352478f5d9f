"""`load_database`: runs and rejects from the store's ledger (one read per brand × entity),
leases from the engine; a failing part is named and the other still shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

import sqlalchemy as sa

from worker.db.schema import RejectRecord, RunCounts, RunRecord
from worker.errors import SinkError
from worker.sinks.base import RunLedger
from worker.status.queries import KEYS_LOOKBACK, REJECTS_SHOWN, load_database
from worker.sync.entities import ENTITY_NAMES

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(run_id: int, brand: str, entity: str) -> RunRecord:
    return RunRecord(
        id=run_id,
        brand=brand,
        entity=entity,
        mode="scheduled",
        status="succeeded",
        started_at=T0 + timedelta(minutes=run_id),
        finished_at=None,
        counts=RunCounts(seen=run_id),
        checkpoint=None,
        duration_seconds=1.0,
        error=None,
        resumed_from=None,
        details=None,
    )


@dataclass
class FakeLedger:
    """The `RunLedger` reads the status page makes, over a list of runs (oldest first)."""

    runs: list[RunRecord]
    rejects: list[RejectRecord] = field(default_factory=list)
    calls: list[tuple[str | None, int, str | None]] = field(default_factory=list)
    fail: bool = False

    def recent_runs(
        self, brand: str | None = None, limit: int = 20, entity: str | None = None
    ) -> list[RunRecord]:
        self.calls.append((brand, limit, entity))
        if self.fail:
            raise SinkError("reading runs failed: PGRST000 boom") from sa.exc.OperationalError(
                "SELECT", {}, Exception("down")
            )
        wanted = [r for r in self.runs if brand in (None, r.brand) and entity in (None, r.entity)]
        return wanted[::-1][:limit]

    def latest_rejects(self, limit: int = 20, run_id: int | None = None) -> list[RejectRecord]:
        return self.rejects[:limit]

    def ledger(self) -> RunLedger:
        """As the store it stands in for (only these reads are made)."""
        return cast(RunLedger, self)


def test_runs_of_every_configured_and_recently_run_job_one_read_each(
    db_engine: sa.Engine,
) -> None:
    runs = [
        record(1, "AZURA", "properties"),
        record(2, "AZURA", "geo"),
        record(3, "AZURA", "properties"),
        record(4, "ELSEWHERE", "associates"),
        record(5, "AZURA", "properties"),
    ]
    reject = RejectRecord(9, 3, "AZURA", "properties", "17", "no price", T0)
    ledger = FakeLedger(runs, [reject])
    data = load_database(db_engine, ledger.ledger(), ["AZURA", "BLUE_OCEAN"], per_key=2)
    assert data.error is None
    assert [(r.brand, r.entity, r.id) for r in data.runs] == [
        ("AZURA", "geo", 2),
        ("AZURA", "properties", 5),
        ("AZURA", "properties", 3),
        ("ELSEWHERE", "associates", 4),
    ]
    assert data.runs[1].started_at == (T0 + timedelta(minutes=5)).timestamp()
    assert data.runs[1].seen == 5
    first, *per_job = ledger.calls
    assert first == (None, KEYS_LOOKBACK, None)
    brands = ("AZURA", "BLUE_OCEAN", "ELSEWHERE")
    assert sorted(per_job) == sorted((b, 2, e) for b in brands for e in ENTITY_NAMES)
    (shown,) = data.rejects
    assert (shown.run_id, shown.source_id, shown.reason) == (3, "17", "no price")
    assert shown.created_at == T0.timestamp()
    assert data.leases == []


def test_a_failing_store_is_named_and_leases_are_still_shown(db_engine: sa.Engine) -> None:
    with db_engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO job_leases (job_key, holder, acquired_at, renewed_at, expires_at) "
                "VALUES ('AZURA:properties', 'me', now(), now(), now() + interval '1 minute')"
            )
        )
    ledger = FakeLedger([record(1, "AZURA", "properties")], fail=True)
    data = load_database(db_engine, ledger.ledger(), ["AZURA"], rejects=REJECTS_SHOWN)
    assert data.error == "database unavailable: OperationalError"
    assert "boom" not in data.error
    assert (data.runs, data.rejects) == ([], [])
    assert [lease.job_key for lease in data.leases] == ["AZURA:properties"]
