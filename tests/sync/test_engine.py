"""The sync engine against the sandbox and a real Postgres."""

from __future__ import annotations

import psycopg
import pytest

from tests.sync import pgstat
from tests.sync.conftest import LISTINGS, Harness
from tests.sync.truth import assert_matches_truth
from worker.sync.normalise import ASSOCIATE_PRIVATE_FIELDS, PROPERTY_PRIVATE_FIELDS

ENTITY_ORDER = ("properties", "associates", "lookups", "geo")
ENTITY_TABLES = (
    "properties",
    "properties_private",
    "property_images",
    "associates",
    "associates_private",
    "lookups",
    "lookup_values",
    "geo_countries",
    "geo_states",
    "geo_locations",
)


def sync_all(h: Harness) -> dict[str, str]:
    return {entity: h.sync(entity).status for entity in ENTITY_ORDER}


def test_first_sync_equals_truth_for_every_entity(harness: Harness) -> None:
    assert set(sync_all(harness).values()) == {"succeeded"}
    for entity in (*ENTITY_ORDER, "images"):
        assert_matches_truth(harness, entity)
    runs = harness.query("SELECT entity, mode, status, checkpoint, duration_seconds FROM sync_runs")
    assert {r[0] for r in runs} == set(ENTITY_ORDER)
    assert all(r[2] == "succeeded" and r[4] is not None for r in runs)


def test_after_an_epoch_only_the_changed_rows_are_written(harness: Harness) -> None:
    h = harness
    sync_all(h)
    churn = h.epoch(changed=0.05, removed=0.02, added=0.03)
    before = {t: h.row_versions(t) for t in ("properties", "associates")}
    props = h.sync("properties")
    assocs = h.sync("associates")
    assert props.status == assocs.status == "succeeded"
    p = churn["properties"]
    assert (props.counts.inserted, props.counts.updated) == (p["added"], p["changed"])
    assert props.counts.delisted == p["removed"]
    a = churn["associates"]
    assert (assocs.counts.inserted, assocs.counts.updated) == (a["added"], a["changed"])
    assert assocs.counts.delisted == a["removed"]
    rewritten = len(before["properties"] - h.row_versions("properties"))
    assert rewritten == p["changed"] + p["removed"]
    sweep = h.sync("images")
    i = churn["images"]
    during = props.details.get("images", {})
    assert during.get("inserted", 0) + sweep.counts.inserted >= i["added"]
    assert during.get("deleted", 0) + sweep.details["images"]["deleted"] >= i["removed"]
    assert sweep.counts.updated + sweep.counts.inserted <= i["changed"] + i["added"]
    for entity in ("properties", "associates", "images"):
        assert_matches_truth(h, entity)


def test_a_run_with_nothing_changed_writes_no_entity_row(
    harness: Harness, migrated_db_url: str
) -> None:
    h = harness
    with psycopg.connect(migrated_db_url, autocommit=True) as observer:
        sync_all(h)
        h.sync("images")
        versions = {t: h.row_versions(t) for t in ENTITY_TABLES}
        before = pgstat.settle(observer, h.engine)
        assert before["properties"][0] == LISTINGS  # the counters do see entity writes
        results = sync_all(h)
        sweep = h.sync("images")
        after = pgstat.settle(observer, h.engine)
    assert set(results.values()) == {"succeeded"}
    assert (sweep.counts.inserted, sweep.counts.updated) == (0, 0)
    assert sweep.details["images"]["deleted"] == 0
    written = pgstat.delta(before, after, ENTITY_TABLES)
    assert written == dict.fromkeys(ENTITY_TABLES, (0, 0, 0, 0)), written
    assert pgstat.delta(before, after, ("sync_runs",))["sync_runs"][0] == len(ENTITY_ORDER) + 1
    assert {t: h.row_versions(t) for t in ENTITY_TABLES} == versions
    counts = h.query("SELECT inserted, updated, delisted FROM sync_runs ORDER BY id DESC LIMIT 5")
    assert all(tuple(c) == (0, 0, 0) for c in counts)


def test_offset_drift_never_causes_a_false_delisting(harness: Harness) -> None:
    h = harness
    h.sync("properties")
    h.faults(drift=True, drift_inserts=3)
    result = h.sync("properties")
    assert result.status == "succeeded"
    assert result.counts.delisted == 0
    assert h.scalar("SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL") == 0


def test_api_suddenly_empty_trips_the_guard_and_delists_nothing(harness: Harness) -> None:
    h = harness
    h.sync("properties")
    h.epoch(changed=0, removed=1.0, added=0)
    result = h.sync("properties")
    assert result.status == "delist_guard_tripped"
    assert result.counts.delisted == 0
    assert h.scalar("SELECT count(*) FROM properties WHERE delisted_at IS NULL") == LISTINGS


def test_small_removals_are_confirmed_then_delisted_and_a_return_undelists(
    harness: Harness,
) -> None:
    h = harness
    h.sync("properties")
    gone = h.epoch(changed=0, removed=0.02, added=0)["properties"]["removed"]
    assert h.sync("properties").counts.delisted == gone
    assert h.scalar("SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL") == gone
    h.execute(
        "UPDATE properties SET delisted_at = now() WHERE listing_id IN "
        "(SELECT listing_id FROM properties WHERE delisted_at IS NULL LIMIT 2)"
    )
    back = h.sync("properties")
    assert back.counts.updated == 2
    assert h.scalar("SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL") == gone


def test_malformed_records_are_quarantined_and_the_rest_loads(harness: Harness) -> None:
    h = harness
    h.faults(malformed_rate=0.3, fault_seed=5)
    result = h.sync("properties")
    assert result.status == "succeeded_with_rejects"
    rejects = h.query(
        "SELECT source_id, reason, payload FROM sync_rejects WHERE entity = 'properties'"
    )
    assert len(rejects) == result.counts.rejected - (
        result.details.get("images", {}).get("rejected", 0)
    )
    assert rejects
    assert all(reason for _, reason, _ in rejects)
    for _, _, payload in rejects:
        assert not set(payload) & set(PROPERTY_PRIVATE_FIELDS)
    loaded = h.scalar("SELECT count(*) FROM properties")
    assert loaded + len(rejects) >= LISTINGS
    h.admin("POST", "faults/reset")
    assert h.sync("properties").status == "succeeded"
    assert_matches_truth(h, "properties")


@pytest.mark.parametrize(
    "knobs",
    [
        {"error_rate": 0.15, "error_statuses": [500, 502, 503, 504]},
        {"rate_limit_rate": 0.15, "retry_after_seconds": 1},
        {"reset_rate": 0.1},
        {"html_page_rate": 0.15},
    ],
    ids=["5xx", "429", "reset", "html"],
)
def test_transient_faults_end_in_the_same_state_as_a_clean_run(
    harness: Harness, knobs: dict[str, object]
) -> None:
    h = harness
    h.faults(fault_seed=11, **knobs)
    statuses = sync_all(h)
    assert set(statuses.values()) == {"succeeded"}, statuses
    h.admin("POST", "faults/reset")
    for entity in (*ENTITY_ORDER, "images"):
        assert_matches_truth(h, entity)


def test_private_fields_never_reach_public_tables_or_raw(harness: Harness) -> None:
    h = harness
    sync_all(h)
    for field in PROPERTY_PRIVATE_FIELDS:
        assert h.scalar("SELECT count(*) FROM properties WHERE raw ? :f", f=field) == 0
    for field in ASSOCIATE_PRIVATE_FIELDS:
        assert h.scalar("SELECT count(*) FROM associates WHERE raw ? :f", f=field) == 0
    assert h.scalar("SELECT count(*) FROM properties_private WHERE owner_name IS NOT NULL") > 0
    assert h.scalar("SELECT count(*) FROM associates_private WHERE birthday IS NOT NULL") > 0
