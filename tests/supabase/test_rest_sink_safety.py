"""The REST sink against what a real Supabase does to it: a `max-rows` below its page size,
answers lost after the server committed, and concurrent runs sharing one sink (the daemon).

Against `PostgrestDouble`, a test double of PostgREST (not PostgREST itself), backed by the
real test Postgres."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.integration.test_postgres_sink import rows
from tests.supabase.postgrest_double import PostgrestDouble
from tests.supabase.test_sink_contract import IMG, SERVICE_ROLE_KEY, Sleeps, images, scalar
from tests.sync.conftest import BRAND
from worker.db.schema import IMAGES_TABLE, PROPERTIES_TABLE, Reject, RunStart, UpsertResult
from worker.errors import SinkError
from worker.sinks.base import AbsentScan
from worker.sinks.supabase import ENTITY_TABLES, SupabaseSink, create_supabase_client
from worker.sync.entities import ENTITIES, ENTITY_NAMES

MAX_ROWS = 50
PAGE_SIZE = 100
"""Larger than the server's max-rows, as with a Supabase project that lowered it."""


@pytest.fixture
def api(migrated_db_url: str) -> Iterator[PostgrestDouble]:
    with PostgrestDouble(migrated_db_url, SERVICE_ROLE_KEY, max_rows=MAX_ROWS) as double:
        yield double


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def sink(api: PostgrestDouble, sleeps: Sleeps) -> SupabaseSink:
    client = create_supabase_client(api.url, SERVICE_ROLE_KEY, sleep=sleeps, read_timeout=10)
    return SupabaseSink(client, page_size=PAGE_SIZE, batch_size=40)


def count(engine: sa.Engine, table: str) -> int:
    return int(scalar(engine, f"SELECT count(*) FROM {table}"))


# --- B5: pages shorter than asked for are not the last page -------------------------------


def test_a_no_change_run_reads_every_page_when_max_rows_is_below_the_page_size(
    sink: SupabaseSink, api: PostgrestDouble
) -> None:
    sink.start_run(RunStart(BRAND, "properties", "manual"))
    assert sink.upsert(PROPERTIES_TABLE, BRAND, rows(120)) == UpsertResult(inserted=120)
    sink.start_run(RunStart(BRAND, "properties", "manual"))
    api.log.clear()
    assert sink.upsert(PROPERTIES_TABLE, BRAND, rows(120)) == UpsertResult(unchanged=120)
    assert sink.active_ids(PROPERTIES_TABLE, BRAND) == set(range(1, 121))
    everything = [(None, i) for i in range(1, 121)]
    assert (
        sink.delist_absent(
            PROPERTIES_TABLE, BRAND, AbsentScan(everything, guard_minimum=0, guard_fraction=0)
        )
        == 0
    )
    assert api.requests("POST", "properties") == []
    assert api.requests("PATCH", "properties") == []
    reads = api.requests("GET", "properties")
    assert [r.rows for r in reads] == [50, 50, 20]  # each page starts where the last ended


def test_replace_children_sees_every_stored_child_past_max_rows(
    sink: SupabaseSink, db_engine: sa.Engine
) -> None:
    sink.start_run(RunStart(BRAND, "images", "manual"))
    listings = list(range(1, 61))
    stored = [image for listing in listings for image in images(listing, 1, 2)]
    assert sink.replace_children(IMAGES_TABLE, BRAND, listings, stored).inserted == 120
    sink.start_run(RunStart(BRAND, "images", "manual"))
    kept = [image for listing in listings for image in images(listing, 1)]
    result = sink.replace_children(IMAGES_TABLE, BRAND, listings, kept)
    assert (result.unchanged, result.deleted) == (60, 60)
    assert count(db_engine, "property_images") == 60


# --- B4: a request that may have been done is not sent again ------------------------------


def test_start_run_whose_answer_was_lost_after_commit_makes_one_run(
    sink: SupabaseSink, api: PostgrestDouble, sleeps: Sleeps, db_engine: sa.Engine
) -> None:
    api.fail_next(502, after_commit=True, method="POST", table="sync_runs")
    run_id = sink.start_run(RunStart(BRAND, "properties", "manual"))
    assert count(db_engine, "sync_runs") == 1
    assert scalar(db_engine, "SELECT id FROM sync_runs") == run_id
    assert len(api.requests("POST", "sync_runs")) == 1
    record = sink.get_run(run_id)
    assert record is not None
    assert (record.status, record.details) == ("running", None)  # the run key stays inside


def test_start_run_that_may_not_have_been_done_fails_without_a_second_insert(
    sink: SupabaseSink, api: PostgrestDouble, db_engine: sa.Engine
) -> None:
    api.fail_next(504, method="POST", table="sync_runs")
    with pytest.raises(SinkError, match="starting a run failed"):
        sink.start_run(RunStart(BRAND, "properties", "manual"))
    assert len(api.requests("POST", "sync_runs")) == 0
    assert count(db_engine, "sync_runs") == 0


def test_rejects_whose_answer_was_lost_after_commit_are_not_recorded_twice(
    sink: SupabaseSink, api: PostgrestDouble, db_engine: sa.Engine
) -> None:
    run_id = sink.start_run(RunStart(BRAND, "properties", "manual"))
    api.fail_next(500, after_commit=True, method="POST", table="sync_rejects")
    with pytest.raises(SinkError, match="recording rejects failed"):
        sink.record_rejects(run_id, BRAND, "properties", [Reject("1", "why", {})])
    assert count(db_engine, "sync_rejects") == 1


def test_inserts_refused_before_being_done_are_retried(
    sink: SupabaseSink, api: PostgrestDouble, sleeps: Sleeps, db_engine: sa.Engine
) -> None:
    api.fail_next(429, method="POST", table="sync_runs")
    run_id = sink.start_run(RunStart(BRAND, "properties", "manual"))
    api.fail_next(503, retry_after="2", method="POST", table="sync_rejects")
    sink.record_rejects(run_id, BRAND, "properties", [Reject("1", "why", {})])
    assert (count(db_engine, "sync_runs"), count(db_engine, "sync_rejects")) == (1, 1)
    assert len(sleeps) == 2
    assert sleeps[1] == 2.0


def test_upserts_are_retried_even_after_a_commit(
    sink: SupabaseSink, api: PostgrestDouble, sleeps: Sleeps, db_engine: sa.Engine
) -> None:
    sink.start_run(RunStart(BRAND, "properties", "manual"))
    api.fail_next(504, after_commit=True, method="POST", table="properties")
    assert sink.upsert(PROPERTIES_TABLE, BRAND, rows(5)).inserted == 5
    assert len(api.requests("POST", "properties")) == 2
    assert count(db_engine, "properties") == 5


# --- B6: runs sharing one sink --------------------------------------------------------------


def test_interleaved_runs_on_one_sink_skip_no_needed_write(
    sink: SupabaseSink, api: PostgrestDouble, db_engine: sa.Engine
) -> None:
    """A properties run writes a listing's images while an image sweep starts and reads the
    same table: the sweep must not cache the images as they were before that write."""
    sink.start_run(RunStart(BRAND, "properties", "manual"))
    sink.replace_children(IMAGES_TABLE, BRAND, [1], images(1, 10))
    errors: list[BaseException] = []

    def in_thread(work: object) -> threading.Thread:
        def target() -> None:
            try:
                assert callable(work)
                work()
            except BaseException as exc:  # reported by the test, not lost in the thread
                errors.append(exc)

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    held = api.hold_next("POST", "property_images")
    properties = in_thread(
        lambda: sink.replace_children(IMAGES_TABLE, BRAND, [1], images(1, 10, url="v"))
    )
    assert held.arrived.wait(10)  # the properties run's write is in flight

    def sweep() -> None:
        sink.start_run(RunStart(BRAND, "images", "manual"))
        sink.replace_children(IMAGES_TABLE, BRAND, [2], images(2, 20))

    sweeper = in_thread(sweep)
    sweeper.join(2)  # it may read the table now (the bug) or wait for the write in flight
    held.release.set()
    properties.join(10)
    sweeper.join(10)
    assert errors == []
    assert (
        scalar(db_engine, "SELECT image_url FROM property_images WHERE photo_id = 10")
        == f"{IMG}v10"
    )
    # the listing's image goes back to what it was: the table holds v10, so this is a write
    again = sink.replace_children(IMAGES_TABLE, BRAND, [1], images(1, 10))
    assert again.updated == 1
    assert (
        scalar(db_engine, "SELECT image_url FROM property_images WHERE photo_id = 10")
        == f"{IMG}u10"
    )


def test_a_run_starting_keeps_the_hashes_of_tables_it_does_not_write(
    sink: SupabaseSink, api: PostgrestDouble
) -> None:
    sink.start_run(RunStart(BRAND, "properties", "manual"))
    sink.upsert(PROPERTIES_TABLE, BRAND, rows(10))
    before = sink.requests_for_hashes
    sink.start_run(RunStart(BRAND, "geo", "manual"))
    assert sink.upsert(PROPERTIES_TABLE, BRAND, rows(10)).unchanged == 10
    assert sink.requests_for_hashes == before  # the properties run's cache was kept
    sink.start_run(RunStart(BRAND, "properties", "manual"))
    assert sink.upsert(PROPERTIES_TABLE, BRAND, rows(10)).unchanged == 10
    assert sink.requests_for_hashes > before  # its own start reads them afresh


def test_concurrent_runs_writing_one_table_lose_no_write(
    sink: SupabaseSink, db_engine: sa.Engine
) -> None:
    """Many threads replacing image sets of disjoint listings (and starting runs) at once."""
    sink.start_run(RunStart(BRAND, "properties", "manual"))
    errors: list[BaseException] = []

    def worker(first: int) -> None:
        try:
            for listing in range(first, first + 5):
                if listing % 2:
                    sink.start_run(RunStart(BRAND, "images", "manual"))
                sink.replace_children(IMAGES_TABLE, BRAND, [listing], images(listing, 1, 2))
                sink.replace_children(IMAGES_TABLE, BRAND, [listing], images(listing, 2, 3))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(first,)) for first in range(1, 41, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    photos = "SELECT string_agg(DISTINCT photo_id::text, ',') FROM property_images"
    assert (count(db_engine, "property_images"), scalar(db_engine, photos)) == (80, "2,3")
    sink.start_run(RunStart(BRAND, "images", "manual"))
    listings = list(range(1, 41))
    same = [image for listing in listings for image in images(listing, 2, 3)]
    assert sink.replace_children(IMAGES_TABLE, BRAND, listings, same) == UpsertResult(unchanged=80)


def test_every_entity_names_the_tables_its_start_reads_afresh(db_engine: sa.Engine) -> None:
    assert set(ENTITY_TABLES) == set(ENTITY_NAMES)
    for name, entity in ENTITIES.items():
        assert entity.table.table in ENTITY_TABLES[name]
        assert entity.table.private_table in ENTITY_TABLES[name] | {None}
    assert IMAGES_TABLE.table in ENTITY_TABLES["properties"]
    with db_engine.connect() as c:
        branded = set(
            c.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND column_name = 'content_hash'"
                )
            ).scalars()
        )
    assert branded == set().union(*ENTITY_TABLES.values())
