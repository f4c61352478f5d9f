from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from worker.sinks.base import RunCounts, UpsertResult
from worker.sinks.postgres import PostgresSink
from worker.sync.entities import PROPERTIES_ENTITY
from worker.sync.normalise import Reject, Row, normalise_property

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "property-sample.json"


def rows(n: int, **change: Any) -> list[Row]:
    base = json.loads(SAMPLE.read_text())["result"][0]
    out = []
    for i in range(1, n + 1):
        result = normalise_property(base | {"listingId": i, "ownerName": f"Owner {i}"} | change)
        assert isinstance(result, Row)
        out.append(result)
    return out


def writes(engine: sa.Engine, table: str) -> int:
    with engine.connect() as c:
        c.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        value = c.execute(
            sa.text(
                "SELECT n_tup_ins + n_tup_upd + n_tup_del "
                "FROM pg_stat_user_tables WHERE relname = :t"
            ),
            {"t": table},
        ).scalar_one()
    return int(value)


def test_insert_then_unchanged_then_only_changed_rows_are_written(db_engine: sa.Engine) -> None:
    sink = PostgresSink(db_engine)
    spec = PROPERTIES_ENTITY.table
    assert sink.upsert(spec, "AZURA", rows(50)) == UpsertResult(inserted=50)
    assert sink.upsert(spec, "AZURA", rows(50)) == UpsertResult(unchanged=50)
    changed = rows(50)
    changed[3] = rows(4, listPrice=1)[3]
    assert sink.upsert(spec, "AZURA", changed) == UpsertResult(updated=1, unchanged=49)
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM properties")).scalar_one() == 50
        assert (
            c.execute(
                sa.text("SELECT list_price FROM properties WHERE listing_id = 4")
            ).scalar_one()
            == 1
        )
        owner = c.execute(sa.text("SELECT owner_name FROM properties_private WHERE listing_id = 4"))
        assert owner.scalar_one() == "Owner 4"
        raw_has_owner = c.execute(
            sa.text("SELECT count(*) FROM properties WHERE raw ? 'ownerName'")
        )
        assert raw_has_owner.scalar_one() == 0


def test_brands_are_separate_keys_and_duplicates_in_a_batch_collapse(db_engine: sa.Engine) -> None:
    sink = PostgresSink(db_engine)
    batch = rows(3) + rows(3)
    assert sink.upsert(PROPERTIES_ENTITY.table, "AZURA", batch) == UpsertResult(inserted=3)
    assert sink.upsert(PROPERTIES_ENTITY.table, "BLUE_OCEAN", batch).inserted == 3


def test_unchanged_batch_writes_no_tuple(db_engine: sa.Engine) -> None:
    sink = PostgresSink(db_engine)
    sink.upsert(PROPERTIES_ENTITY.table, "AZURA", rows(20))
    before = writes(db_engine, "properties"), writes(db_engine, "properties_private")
    sink.upsert(PROPERTIES_ENTITY.table, "AZURA", rows(20))
    assert (writes(db_engine, "properties"), writes(db_engine, "properties_private")) == before


def test_runs_and_rejects_are_recorded_even_with_unstorable_text(db_engine: sa.Engine) -> None:
    sink = PostgresSink(db_engine)
    run_id = sink.start_run("AZURA", "properties", "manual")
    sink.record_rejects(
        run_id,
        "AZURA",
        "properties",
        [Reject("7", "bad\x00reason", {"t": "nul\x00", "s": "\ud800"})],
    )
    sink.finish_run(run_id, "succeeded_with_rejects", RunCounts(pages=1, seen=2, rejected=1))
    with db_engine.connect() as c:
        run = c.execute(sa.text("SELECT status, seen, rejected FROM sync_runs")).one()
        assert tuple(run) == ("succeeded_with_rejects", 2, 1)
        assert c.execute(sa.text("SELECT source_id FROM sync_rejects")).scalar_one() == "7"
