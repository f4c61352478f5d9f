"""One contract, two sinks: every test runs against the Postgres sink and the Supabase REST
sink. The REST sink talks to `PostgrestDouble` — a test double of PostgREST's documented
behaviour (not PostgREST itself), backed by the same real test Postgres — so what each
sink stored is read back from the database in the same way."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.test_postgres_sink import rows
from tests.supabase.postgrest_double import PostgrestDouble
from tests.sync.conftest import BRAND, Harness
from tests.sync.truth import assert_matches_truth
from worker.config import load_settings
from worker.db.schema import (
    IMAGES_TABLE,
    LOOKUP_VALUES_TABLE,
    PROPERTIES_TABLE,
    STATES_TABLE,
    Reject,
    Row,
    RunCounts,
    RunEnd,
    RunStart,
    UpsertResult,
)
from worker.errors import SinkError
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sinks.base import AbsentScan, Store
from worker.sinks.choose import build_store
from worker.sinks.postgres import PostgresSink
from worker.sinks.supabase import SupabaseSink, create_supabase_client
from worker.sync.records import normalise_image

SERVICE_ROLE_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2VydmljZS1yb2xlLXNpZw"
PAGE = 50
"""The double's max-rows: small, so reads paginate."""
PAGE_SIZE = 2 * PAGE
"""The REST sink's page size: above max-rows, as when a project lowers `max-rows`, so every
page comes back shorter than asked for."""


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def api(migrated_db_url: str) -> Iterator[PostgrestDouble]:
    with PostgrestDouble(migrated_db_url, SERVICE_ROLE_KEY, max_rows=PAGE) as double:
        yield double


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_supabase_sink(
    api: PostgrestDouble, sleeps: Sleeps, key: str = SERVICE_ROLE_KEY
) -> SupabaseSink:
    client = create_supabase_client(api.url, key, sleep=sleeps, read_timeout=10)
    return SupabaseSink(client, page_size=PAGE_SIZE, batch_size=40)


@pytest.fixture(params=["postgres", "supabase"])
def sink(request: pytest.FixtureRequest, db_engine: sa.Engine) -> Store:
    if request.param == "postgres":
        return PostgresSink(db_engine)
    return make_supabase_sink(request.getfixturevalue("api"), request.getfixturevalue("sleeps"))


def scalar(engine: sa.Engine, query: str, **params: Any) -> Any:
    with engine.connect() as c:
        return c.execute(sa.text(query), params).scalar_one()


IMG = "https://img.example/"


def images(listing: int, *photos: int, url: str = "u") -> list[Row]:
    out = []
    for photo in photos:
        row = normalise_image(
            {
                "ListingId": listing,
                "PhotoId": photo,
                "Prioridad": 1,
                "ImageUrl": f"https://img.example/{url}{photo}",
            }
        )
        assert isinstance(row, Row)
        out.append(replace(row, scope_id=listing))
    return out


def begin(sink: Store) -> int:
    """A run starts: the REST sink reads stored hashes afresh from here."""
    return sink.start_run(RunStart(BRAND, "properties", "manual"))


def test_only_new_and_changed_rows_are_written(sink: Store, db_engine: sa.Engine) -> None:
    begin(sink)
    assert sink.upsert(PROPERTIES_TABLE, BRAND, rows(120)) == UpsertResult(inserted=120)
    begin(sink)
    assert sink.upsert(PROPERTIES_TABLE, BRAND, rows(120)) == UpsertResult(unchanged=120)
    changed = rows(120)
    changed[3] = rows(4, listPrice=1)[3]
    result = sink.upsert(PROPERTIES_TABLE, BRAND, changed)
    assert result == UpsertResult(updated=1, unchanged=119)
    assert result.changed_ids == (4,)
    assert scalar(db_engine, "SELECT count(*) FROM properties") == 120
    assert scalar(db_engine, "SELECT list_price FROM properties WHERE listing_id = 4") == 1
    owner = "SELECT owner_name FROM properties_private WHERE listing_id = 4"
    assert scalar(db_engine, owner) == "Owner 4"
    assert scalar(db_engine, "SELECT count(*) FROM properties WHERE raw ? 'ownerName'") == 0
    assert scalar(db_engine, "SELECT count(*) FROM properties_private") == 120


def test_duplicates_collapse_and_brands_are_separate(sink: Store) -> None:
    begin(sink)
    batch = rows(3) + rows(3)
    assert sink.upsert(PROPERTIES_TABLE, BRAND, batch) == UpsertResult(inserted=3)
    assert sink.upsert(PROPERTIES_TABLE, "BLUE_OCEAN", batch).inserted == 3
    assert sink.active_ids(PROPERTIES_TABLE, "BLUE_OCEAN") == {1, 2, 3}


def test_stale_keys_and_delisting(sink: Store, db_engine: sa.Engine) -> None:
    begin(sink)
    sink.upsert(PROPERTIES_TABLE, BRAND, rows(10))
    changed = rows(10)
    changed[1] = rows(2, listPrice=7)[1]
    assert sink.stale_keys(PROPERTIES_TABLE, BRAND, changed + rows(11)[10:]) == {2, 11}
    assert sink.mark_delisted(PROPERTIES_TABLE, BRAND, [3, 4, 99]) == 2
    assert sink.mark_delisted(PROPERTIES_TABLE, BRAND, [3]) == 0
    assert sink.active_ids(PROPERTIES_TABLE, BRAND) == {1, 2, 5, 6, 7, 8, 9, 10}
    assert sink.stale_keys(PROPERTIES_TABLE, BRAND, rows(10)) == {3, 4}
    assert scalar(db_engine, "SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL") == 2
    begin(sink)  # a new run sees the stored state as the last one left it
    assert sink.active_ids(PROPERTIES_TABLE, BRAND) == {1, 2, 5, 6, 7, 8, 9, 10}
    relisted = sink.upsert(PROPERTIES_TABLE, BRAND, rows(10))
    assert (relisted.updated, relisted.unchanged) == (2, 8)
    assert scalar(db_engine, "SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL") == 0


def test_delisting_candidates_are_the_active_rows_a_scan_did_not_see(sink: Store) -> None:
    begin(sink)
    sink.upsert(PROPERTIES_TABLE, BRAND, rows(10))
    sink.upsert(PROPERTIES_TABLE, "BLUE_OCEAN", rows(12))
    assert sink.mark_delisted(PROPERTIES_TABLE, BRAND, [4]) == 1
    # repeats in `seen` (offset drift) and ids never stored are harmless
    seen = [1, 2, 2, 3, 5, 7, 7, 99]
    assert sink.delisting_candidates(PROPERTIES_TABLE, BRAND, seen) == (9, [6, 8, 9, 10])
    assert sink.delisting_candidates(PROPERTIES_TABLE, BRAND, []) == (
        9,
        [1, 2, 3, 5, 6, 7, 8, 9, 10],
    )
    assert sink.delisting_candidates(PROPERTIES_TABLE, "BLUE_OCEAN", range(1, 13)) == (12, [])


def test_delist_absent_respects_the_guard(sink: Store, db_engine: sa.Engine) -> None:
    begin(sink)
    values = [replace(r, scope_id=lookup) for lookup in (1, 2) for r in rows(10)]
    values = [
        Row(
            source_id=i,
            public={"name_en": f"v{i}", "name_es": None},
            raw={"i": i},
            content_hash=f"h{i}",
            scope_id=lookup,
        )
        for lookup in (1, 2)
        for i in range(1, 11)
    ]
    assert sink.upsert(LOOKUP_VALUES_TABLE, BRAND, values).inserted == 20
    seen = [(r.scope_id, r.source_id) for r in values if r.source_id > 3]
    tripped = sink.delist_absent(
        LOOKUP_VALUES_TABLE, BRAND, AbsentScan(seen, guard_minimum=1, guard_fraction=0.1)
    )
    assert tripped is None
    assert scalar(db_engine, "SELECT count(*) FROM lookup_values WHERE delisted_at IS NULL") == 20
    done = sink.delist_absent(
        LOOKUP_VALUES_TABLE, BRAND, AbsentScan(seen, guard_minimum=6, guard_fraction=0)
    )
    assert done == 6
    gone = scalar(
        db_engine,
        "SELECT string_agg(lookup_id || ':' || value_id, ',' ORDER BY lookup_id, value_id) "
        "FROM lookup_values WHERE delisted_at IS NOT NULL",
    )
    assert gone == "1:1,1:2,1:3,2:1,2:2,2:3"


def test_delist_absent_keeps_the_rows_of_kept_scopes(sink: Store, db_engine: sa.Engine) -> None:
    """`keep_scopes` matches the scope of a scoped key, or a table's parent column."""
    begin(sink)
    values = [
        Row(i, {"name_en": f"v{i}", "name_es": None}, {"i": i}, f"h{i}", scope_id=lookup)
        for lookup in (1, 2, 3)
        for i in (1, 2)
    ]
    sink.upsert(LOOKUP_VALUES_TABLE, BRAND, values)
    done = sink.delist_absent(
        LOOKUP_VALUES_TABLE,
        BRAND,
        AbsentScan([], guard_minimum=10, guard_fraction=0, keep_scopes=[2]),
    )
    assert done == 4
    active = "SELECT string_agg(lookup_id || ':' || value_id, ',' ORDER BY 1) FROM lookup_values "
    assert scalar(db_engine, active + "WHERE delisted_at IS NULL") == "2:1,2:2"

    states = [
        Row(i, {"country_id": country, "name_en": None, "name_es": None}, {"i": i}, f"h{i}")
        for i, country in ((1, 10), (2, 10), (3, 20), (4, None))
    ]
    sink.upsert(STATES_TABLE, BRAND, states)
    done = sink.delist_absent(
        STATES_TABLE,
        BRAND,
        AbsentScan([(None, 3)], guard_minimum=10, guard_fraction=0, keep_scopes=[10]),
    )
    assert done == 1  # state 4 (no country); 1 and 2 kept, 3 seen
    kept = "SELECT string_agg(state_id::text, ',' ORDER BY 1) FROM geo_states "
    assert scalar(db_engine, kept + "WHERE delisted_at IS NULL") == "1,2,3"


def test_image_sets_are_replaced_per_listing(sink: Store, db_engine: sa.Engine) -> None:
    begin(sink)
    first = sink.replace_children(IMAGES_TABLE, BRAND, [1, 2], images(1, 10, 11) + images(2, 20))
    assert first == UpsertResult(inserted=3)
    again = sink.replace_children(
        IMAGES_TABLE, BRAND, [1, 2, 3], images(1, 10) + images(1, 12) + images(2, 20, url="v")
    )
    assert (again.inserted, again.updated, again.unchanged, again.deleted) == (1, 1, 1, 1)
    with db_engine.connect() as c:
        stored = c.execute(
            sa.text("SELECT listing_id, photo_id, image_url FROM property_images ORDER BY 1, 2")
        ).all()
    assert [tuple(r) for r in stored] == [
        (1, 10, f"{IMG}u10"),
        (1, 12, f"{IMG}u12"),
        (2, 20, f"{IMG}v20"),
    ]
    assert sink.replace_children(IMAGES_TABLE, BRAND, [2], []).deleted == 1


def test_runs_and_rejects(sink: Store, db_engine: sa.Engine) -> None:
    stale = sink.start_run(RunStart(BRAND, "properties", "manual"))
    run_id = sink.start_run(RunStart(BRAND, "properties", "scheduled", take=20))
    old = sink.get_run(stale)
    assert old is not None
    assert (old.status, old.error) == ("abandoned", "left running by a process that stopped")
    sink.checkpoint_run(run_id, RunCounts(pages=1, seen=20), 20)
    sink.record_rejects(
        run_id, BRAND, "properties", [Reject("7", "bad\x00reason", {"t": "nul\x00", "s": "\ud800"})]
    )
    sink.finish_run(
        run_id,
        RunEnd(
            "succeeded_with_rejects",
            RunCounts(pages=2, seen=30, inserted=29, rejected=1),
            duration_seconds=1.5,
            details={"images": {"inserted": 3}},
        ),
    )
    record = sink.get_run(run_id)
    assert record is not None
    assert record.status == "succeeded_with_rejects"
    assert record.mode == "scheduled"
    assert record.counts == RunCounts(pages=2, seen=30, inserted=29, rejected=1)
    assert record.checkpoint == 20
    assert record.details == {"images": {"inserted": 3}}
    assert record.finished_at is not None
    assert [r.id for r in sink.recent_runs(BRAND)] == [run_id, stale]
    assert sink.recent_runs("NOBODY") == []
    assert sink.get_run(run_id + 1000) is None
    assert scalar(db_engine, "SELECT source_id FROM sync_rejects") == "7"
    sink.start_run(RunStart(BRAND, "geo", "manual"))
    assert sink.abandon_stale_runs(BRAND) == 1


def test_recent_runs_of_one_job_and_latest_rejects_without_payload(sink: Store) -> None:
    runs: dict[str, list[int]] = {}
    for entity in ("properties", "associates", "properties", "geo", "properties"):
        run_id = sink.start_run(RunStart(BRAND, entity, "scheduled"))
        sink.finish_run(run_id, RunEnd("succeeded", RunCounts(pages=1, seen=1)))
        runs.setdefault(entity, []).append(run_id)
    other = sink.start_run(RunStart("BLUE_OCEAN", "properties", "manual"))
    newest_first = runs["properties"][::-1]
    assert [r.id for r in sink.recent_runs(BRAND, 20, "properties")] == newest_first
    assert [r.id for r in sink.recent_runs(BRAND, 2, entity="properties")] == newest_first[:2]
    assert [r.id for r in sink.recent_runs(entity="properties")] == [other, *newest_first]
    assert [r.id for r in sink.recent_runs(BRAND, entity="geo")] == runs["geo"]
    assert sink.recent_runs(BRAND, entity="images") == []
    assert sink.recent_runs("NOBODY", entity="properties") == []
    assert [r.id for r in sink.recent_runs(limit=2)] == [other, newest_first[0]]
    (latest,) = sink.recent_runs("BLUE_OCEAN", 5, "properties")
    assert (latest.brand, latest.entity, latest.mode, latest.status) == (
        "BLUE_OCEAN",
        "properties",
        "manual",
        "running",
    )

    assert sink.latest_rejects() == []
    sink.record_rejects(runs["geo"][0], BRAND, "geo", [Reject("g1", "no name", {"k": "v"})])
    private = {"ownerEmail": "owner@example.com"}
    sink.record_rejects(
        other,
        "BLUE_OCEAN",
        "properties",
        [Reject(None, "bad\x00price", private), Reject("9", "no id", private)],
    )
    two = sink.latest_rejects(2)
    assert [(r.run_id, r.brand, r.entity, r.source_id, r.reason) for r in two] == [
        (other, "BLUE_OCEAN", "properties", "9", "no id"),
        (other, "BLUE_OCEAN", "properties", None, "bad\ufffdprice"),
    ]
    assert two[0].id > two[1].id
    assert two[0].created_at.tzinfo is not None
    assert "owner@example.com" not in repr(sink.latest_rejects())
    assert [r.source_id for r in sink.latest_rejects()] == ["9", None, "g1"]


def test_last_success_counts_only_successful_runs_of_that_job(sink: Store) -> None:
    assert sink.last_success_at(BRAND, "properties") is None
    ok = sink.start_run(RunStart(BRAND, "properties", "scheduled"))
    sink.finish_run(ok, RunEnd("succeeded", RunCounts(pages=1, seen=1)))
    first = sink.last_success_at(BRAND, "properties")
    assert first is not None
    failed = sink.start_run(RunStart(BRAND, "properties", "scheduled"))
    sink.finish_run(failed, RunEnd("failed", RunCounts(), error="boom"))
    tripped = sink.start_run(RunStart(BRAND, "properties", "scheduled"))
    sink.finish_run(tripped, RunEnd("delist_guard_tripped", RunCounts()))
    assert sink.last_success_at(BRAND, "properties") == first
    assert sink.last_success_at(BRAND, "associates") is None
    assert sink.last_success_at("NOBODY", "properties") is None
    with_rejects = sink.start_run(RunStart(BRAND, "properties", "scheduled"))
    sink.finish_run(with_rejects, RunEnd("succeeded_with_rejects", RunCounts(rejected=1)))
    latest = sink.last_success_at(BRAND, "properties")
    assert latest is not None
    assert latest >= first


def test_a_full_sync_through_the_sink_equals_truth(sink: Store, db_engine: sa.Engine) -> None:
    config = SandboxConfig(
        seed=1, listings=70, associates=12, images_per_listing=2, brands=(BRAND,)
    )
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        env = {**server.env(), "DATABASE_URL": "postgresql://unused/x"}
        harness = Harness(server, load_settings(environ=env, env_file=None), db_engine)
        harness.store = sink
        try:
            for entity in ("properties", "associates", "lookups", "geo"):
                assert harness.sync(entity).status == "succeeded"
            for entity in ("properties", "associates", "lookups", "geo", "images"):
                assert_matches_truth(harness, entity)
            churn = harness.epoch(changed=0.1, removed=0.05, added=0.05)
            again = harness.sync("properties")
            p = churn["properties"]
            assert (again.counts.inserted, again.counts.updated, again.counts.delisted) == (
                p["added"],
                p["changed"],
                p["removed"],
            )
            assert_matches_truth(harness, "properties")
            steady = harness.sync("properties")
            assert (steady.counts.inserted, steady.counts.updated) == (0, 0)
        finally:
            harness.session.close()


# --- the REST sink only --------------------------------------------------------------------


def test_rest_sink_reads_hashes_once_per_run_paginated_and_sends_only_changes(
    api: PostgrestDouble, sleeps: Sleeps
) -> None:
    sink = make_supabase_sink(api, sleeps)
    begin(sink)
    sink.upsert(PROPERTIES_TABLE, BRAND, rows(120))
    api.log.clear()
    begin(sink)
    for chunk in (rows(120)[:60], rows(120)[60:]):
        assert sink.upsert(PROPERTIES_TABLE, BRAND, chunk).unchanged == 60
    reads = api.requests("GET", "properties")
    assert len(reads) == 3  # 120 rows in pages of 50 (max-rows), read once for both batches
    assert [r.headers["Range"] for r in reads] == ["0-99", "50-149", "100-199"]
    assert [r.rows for r in reads] == [50, 50, 20]
    assert all(r.headers["Range-Unit"] == "items" for r in reads)
    assert {r.table for r in api.requests("POST")} == {"sync_runs"}  # no row was sent
    changed = rows(120)
    changed[7] = rows(8, listPrice=3)[7]
    sink.upsert(PROPERTIES_TABLE, BRAND, changed)
    (write,) = api.requests("POST", "properties")
    assert write.rows == 1
    assert dict(write.params)["on_conflict"] == "brand,listing_id"
    prefer = write.headers["Prefer"]
    assert "resolution=merge-duplicates" in prefer
    assert "return=minimal" in prefer


def test_rest_sink_reads_runs_of_one_job_in_index_order_and_rejects_without_payload(
    api: PostgrestDouble, sleeps: Sleeps
) -> None:
    sink = make_supabase_sink(api, sleeps)
    run_id = begin(sink)
    sink.record_rejects(run_id, BRAND, "properties", [Reject("1", "why", {"secret": "s"})])
    api.log.clear()
    sink.recent_runs(BRAND, 20, "properties")
    assert [r.reason for r in sink.latest_rejects(5)] == ["why"]
    runs_read, *_ = api.requests("GET", "sync_runs")
    params = dict(runs_read.params)
    assert (params["brand"], params["entity"], params["limit"]) == (
        f"eq.{BRAND}",
        "eq.properties",
        "20",
    )
    assert params["order"] == "started_at.desc,id.desc"
    for read in api.requests("GET", "sync_rejects"):
        selected = dict(read.params)["select"].split(",")
        assert "payload" not in selected
        assert "*" not in selected
        assert dict(read.params)["order"] == "id.desc"


def test_rest_sink_retries_5xx_429_and_gives_up_with_a_sink_error(
    api: PostgrestDouble, sleeps: Sleeps
) -> None:
    sink = make_supabase_sink(api, sleeps)
    begin(sink)
    api.fail_next(503, 2)
    api.fail_next(429, 1, retry_after="7")
    assert sink.upsert(PROPERTIES_TABLE, BRAND, rows(5)).inserted == 5
    assert len(sleeps) == 3
    assert 0 <= sleeps[0] <= 0.5  # full jitter, as the API client's `RetryPolicy`
    assert 0 <= sleeps[1] <= 1.0
    assert sleeps[2] == 7.0  # Retry-After is a lower bound
    api.fail_next(500, 10)
    with pytest.raises(SinkError, match="PGRST000"):
        sink.upsert(PROPERTIES_TABLE, BRAND, rows(6))


def test_rest_sink_reports_postgrest_errors_without_the_key(
    api: PostgrestDouble, sleeps: Sleeps
) -> None:
    wrong = SERVICE_ROLE_KEY[:-4] + "nope"
    sink = make_supabase_sink(api, sleeps, key=wrong)
    with pytest.raises(SinkError, match="PGRST301") as raised:
        sink.start_run(RunStart(BRAND, "properties", "manual"))
    assert wrong not in str(raised.value)
    assert SERVICE_ROLE_KEY not in str(raised.value)


def test_the_rest_sink_is_chosen_without_database_url_and_its_key_is_a_secret(
    db_engine: sa.Engine,
) -> None:
    env = {
        "SUPABASE_URL": "https://project.supabase.co",
        "SUPABASE_SERVICE_ROLE_KEY": SERVICE_ROLE_KEY,
    }
    rest = load_settings(environ=env, env_file=None, require_brands=False)
    assert rest.uses_supabase_rest
    assert SERVICE_ROLE_KEY in rest.secret_values()
    assert SERVICE_ROLE_KEY not in repr(rest)
    assert isinstance(build_store(rest, db_engine), SupabaseSink)
    direct = load_settings(
        environ={**env, "DATABASE_URL": "postgresql://u@h/d"}, env_file=None, require_brands=False
    )
    assert not direct.uses_supabase_rest
    assert isinstance(build_store(direct, db_engine), PostgresSink)
