"""Servers that cap pages silently, refuse a page size, or never serve one page (issue 13)."""

from __future__ import annotations

import pytest

from tests.sync.conftest import ASSOCIATES, LISTINGS, TAKE, Harness

TABLES = {"properties": ("properties", "listing_id", "listingId", LISTINGS)}
TABLES["associates"] = ("associates", "associate_id", "associateID", ASSOCIATES)
ENTITIES = ["properties", "associates"]


def stored(h: Harness, entity: str) -> set[int]:
    table, key, _, _ = TABLES[entity]
    return {row[0] for row in h.query(f"SELECT {key} FROM {table} WHERE delisted_at IS NULL")}


def truth(h: Harness, entity: str) -> set[int]:
    _, _, field, _ = TABLES[entity]
    return {record[field] for record in h.truth(entity)}


@pytest.mark.parametrize("entity", ENTITIES)
def test_a_silent_page_cap_loses_nothing_and_delists_only_what_left(
    harness: Harness, entity: str
) -> None:
    h = harness
    h.faults(page_cap=7)
    first = h.sync(entity)
    assert first.status == "succeeded", first.error
    assert stored(h, entity) == truth(h, entity)
    assert first.details["paging"] == {"cap": 7, "take": 7}
    assert first.details["delisting"]["candidates"] == 0
    assert first.counts.delisted == 0
    removed = h.epoch(changed=0, removed=0.1, added=0)[entity]["removed"]
    second = h.sync(entity)
    assert second.status == "succeeded", second.error
    assert second.counts.delisted == removed > 0
    assert stored(h, entity) == truth(h, entity)
    assert second.details["paging"] == {"take": 7}, "the cap is remembered, not learnt again"


@pytest.mark.parametrize("entity", ENTITIES)
def test_a_refused_page_size_steps_down_and_the_run_succeeds(harness: Harness, entity: str) -> None:
    h = harness
    h.faults(take_limit=8)
    result = h.sync(entity)
    assert result.status == "succeeded", result.error
    assert result.details["paging"] == {"refused_takes": [TAKE, TAKE // 2], "take": TAKE // 4}
    assert stored(h, entity) == truth(h, entity)
    again = h.sync(entity)
    assert again.details["paging"] == {"take": TAKE // 4}


@pytest.mark.parametrize(("entity", "bad"), [("properties", 73), ("associates", 25)])
def test_a_page_that_keeps_failing_keeps_what_came_before_and_the_next_run_gets_past_it(
    harness: Harness, entity: str, bad: int
) -> None:
    h = harness
    table, _, _, total = TABLES[entity]
    page = bad - bad % TAKE
    h.faults(failing_offsets=[bad])
    first = h.sync(entity)
    assert first.status == "failed"
    assert f"skip/{page}" in (first.error or "")
    assert first.checkpoint == page
    assert first.details["paging"] == {"failed_at": page}
    assert h.scalar(f"SELECT count(*) FROM {table}") == page, "every page before it is stored"

    second = h.sync(entity)
    assert second.status == "failed"
    assert f"1 offset(s) still failing after retries ({bad})" in (second.error or "")
    assert second.details["paging"] == {"isolated": [page], "unreachable": [bad]}
    assert "delisting" not in second.details, "an incomplete scan never delists"
    assert h.scalar(f"SELECT count(*) FROM {table}") == total - 1
    rejects = h.query(
        "SELECT source_id, reason, payload FROM sync_rejects WHERE run_id = :run", run=second.run_id
    )
    assert len(rejects) == 1
    assert rejects[0].source_id is None
    assert rejects[0].reason.startswith(f"offset {bad} unreachable: HTTP 500")
    assert rejects[0].payload == {"offset": bad}

    h.faults(failing_offsets=[])
    third = h.sync(entity)
    assert third.status == "succeeded", third.error
    assert stored(h, entity) == truth(h, entity)
    assert "delisting" in third.details
