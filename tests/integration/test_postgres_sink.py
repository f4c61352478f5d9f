from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.fixtures import sample_property
from worker.db.schema import Reject, Row, RunCounts, RunEnd, RunStart, UpsertResult
from worker.sinks.postgres import PostgresSink
from worker.sync.entities import PROPERTIES_ENTITY
from worker.sync.normalise import normalise_property


def rows(n: int, **change: Any) -> list[Row]:
    base = sample_property()
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
    run_id = sink.start_run(RunStart("AZURA", "properties", "manual"))
    sink.record_rejects(
        run_id,
        "AZURA",
        "properties",
        [Reject("7", "bad\x00reason", {"t": "nul\x00", "s": "\ud800"})],
    )
    sink.finish_run(
        run_id, RunEnd("succeeded_with_rejects", RunCounts(pages=1, seen=2, rejected=1))
    )
    with db_engine.connect() as c:
        run = c.execute(sa.text("SELECT status, seen, rejected FROM sync_runs")).one()
        assert tuple(run) == ("succeeded_with_rejects", 2, 1)
        assert c.execute(sa.text("SELECT source_id FROM sync_rejects")).scalar_one() == "7"


def test_new_keys_are_copied_directly_and_a_racing_insert_falls_back_to_the_merge(
    db_engine: sa.Engine, monkeypatch: Any
) -> None:
    """A batch's new keys skip the stage; if one was stored meanwhile (a concurrent writer),
    the direct COPY is rolled back and the whole batch is merged: same rows, same counts."""
    import worker.sinks.postgres as postgres

    sink = PostgresSink(db_engine)
    spec = PROPERTIES_ENTITY.table
    assert sink.upsert(spec, "AZURA", rows(10)) == UpsertResult(inserted=10)
    batch = rows(20)
    batch[0] = rows(1, listPrice=7)[0]
    # the sink believes none of the 20 is stored, as if another writer raced it
    monkeypatch.setattr(postgres, "_stored_keys", lambda *args: set())
    result = sink.upsert(spec, "AZURA", batch)
    assert result == UpsertResult(inserted=10, updated=1, unchanged=9)
    assert sorted(result.changed_ids) == [1, *range(11, 21)]
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM properties")).scalar_one() == 20
        assert c.execute(sa.text("SELECT count(*) FROM properties_private")).scalar_one() == 20
        price = c.execute(sa.text("SELECT list_price FROM properties WHERE listing_id = 1"))
        assert price.scalar_one() == 7


def test_a_delisted_key_is_merged_not_copied(db_engine: sa.Engine) -> None:
    sink = PostgresSink(db_engine)
    spec = PROPERTIES_ENTITY.table
    sink.upsert(spec, "AZURA", rows(3))
    assert sink.mark_delisted(spec, "AZURA", [2]) == 1
    assert sink.upsert(spec, "AZURA", rows(4)) == UpsertResult(inserted=1, updated=1, unchanged=2)
    assert sink.active_ids(spec, "AZURA") == {1, 2, 3, 4}
