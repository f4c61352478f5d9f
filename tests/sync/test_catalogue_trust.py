"""Catalogue runs (lookups, geo) delist only what the API's answer speaks for.

- B2: a rejected record is still listed (its id counts as seen), and the children of a
  rejected parent are neither fetched nor delisted.
- B11: one failing sub-list (a lookup's details, a country's states) is skipped, recorded
  as a reject and kept, not a failed run; locations are asked for with the country the
  states were fetched for, not the state's own (possibly missing) `countryID`.
- B12: an empty catalogue fails the run without delisting; an empty sub-list keeps the
  stored rows of its parent.

The sandbox's catalogues never churn and are not spoiled by its malformed fault, so the
answers are altered here by wrapping the client's `get_json` (paths chosen per test).
Both sinks: Postgres and the Supabase sink over the PostgREST double.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.sync.conftest import BRAND, Harness
from tests.sync.truth import assert_matches_truth, expected, stored
from worker.api.endpoints import (
    COUNTRIES_PATH,
    LOOKUP_NAMES_PATH,
    lookup_values_path,
    states_path,
)
from worker.errors import ApiStatusError

Rewrite = Callable[[Any], Any]

CATALOGUE_TABLES = ("lookups", "lookup_values", "geo_countries", "geo_states", "geo_locations")


class Answers:
    """Wraps the harness client's `get_json`: `rewrites[path]` alters that path's answer
    (or raises), every other path is answered as the sandbox answers it."""

    def __init__(self, h: Harness) -> None:
        self.rewrites: dict[str, Rewrite] = {}
        self.asked: list[str] = []
        self._inner = h.client.get_json

    def __call__(self, path: str) -> Any:
        self.asked.append(path)
        body = self._inner(path)
        rewrite = self.rewrites.get(path)
        return body if rewrite is None else rewrite(copy.deepcopy(body))


@pytest.fixture
def h(harness_on_each_store: Harness) -> Harness:
    return harness_on_each_store


@pytest.fixture
def answers(h: Harness, monkeypatch: pytest.MonkeyPatch) -> Answers:
    wrapper = Answers(h)
    monkeypatch.setattr(h.client, "get_json", wrapper)
    return wrapper


def records(body: Any) -> list[Any]:
    return body["result"] if isinstance(body, dict) else body


def spoil(index: int, field: str, value: Any = None) -> Rewrite:
    """Record `index` gets `field` = `value` (None: loses the field)."""

    def rewrite(body: Any) -> Any:
        record = records(body)[index]
        if value is None:
            record.pop(field, None)
        else:
            record[field] = value
        return body

    return rewrite


def drop_field_everywhere(field: str) -> Rewrite:
    def rewrite(body: Any) -> Any:
        for record in records(body):
            record.pop(field, None)
        return body

    return rewrite


def empty(body: Any) -> Any:
    return {**body, "result": []} if isinstance(body, dict) else []


def fail(path: str) -> Rewrite:
    def rewrite(body: Any) -> Any:
        raise ApiStatusError(503, "Service Unavailable", path=path, body_kind="html")

    return rewrite


def delisted(h: Harness) -> dict[str, int]:
    return {
        table: h.scalar(
            f"SELECT count(*) FROM {table} WHERE brand = :b AND delisted_at IS NOT NULL", b=BRAND
        )
        for table in CATALOGUE_TABLES
    }


NOTHING_DELISTED = dict.fromkeys(CATALOGUE_TABLES, 0)


def rejects(h: Harness, run_id: int) -> list[tuple[str | None, str]]:
    rows = h.query(
        "SELECT source_id, reason FROM sync_rejects WHERE run_id = :r ORDER BY id", r=run_id
    )
    return [(r[0], r[1]) for r in rows]


def first_sync(h: Harness) -> None:
    for entity in ("lookups", "geo"):
        assert h.sync(entity).status == "succeeded"
    assert delisted(h) == NOTHING_DELISTED


def truth_ids(h: Harness) -> tuple[list[int], list[int]]:
    lookups = [t["lookup"]["lookupID"] for t in h.truth("lookups")]
    countries = [t["country"]["countryID"] for t in h.truth("geo")]
    return lookups, countries


# --- B2: rejected records are still listed -------------------------------------------------


def test_a_rejected_lookup_and_its_values_are_not_delisted(h: Harness, answers: Answers) -> None:
    first_sync(h)
    answers.asked.clear()
    lookups, _ = truth_ids(h)
    answers.rewrites[LOOKUP_NAMES_PATH] = spoil(1, "lookupName", 42)
    run = h.sync("lookups")
    assert run.status == "succeeded_with_rejects"
    assert run.counts.rejected == 1
    assert rejects(h, run.run_id)[0][0] == str(lookups[1])
    assert lookup_values_path(lookups[1]) not in answers.asked  # its id is not trusted
    assert run.counts.delisted == 0
    assert delisted(h) == NOTHING_DELISTED
    assert_matches_truth(h, "lookups")


def test_a_rejected_country_keeps_its_row_states_and_locations(
    h: Harness, answers: Answers
) -> None:
    first_sync(h)
    answers.asked.clear()
    _, countries = truth_ids(h)
    answers.rewrites[COUNTRIES_PATH] = spoil(0, "countryName_en", 42)
    run = h.sync("geo")
    assert run.status == "succeeded_with_rejects"
    assert rejects(h, run.run_id)[0][0] == str(countries[0])
    assert states_path(countries[0]) not in answers.asked
    assert run.counts.delisted == 0
    assert delisted(h) == NOTHING_DELISTED
    assert_matches_truth(h, "geo")


def test_a_rejected_record_without_id_delists_nothing_of_its_table(
    h: Harness, answers: Answers
) -> None:
    """The sandbox's malformed fault: the first spoiled record loses its key."""
    first_sync(h)
    answers.rewrites[COUNTRIES_PATH] = spoil(2, "countryID")
    answers.rewrites[LOOKUP_NAMES_PATH] = spoil(0, "lookupID")
    for entity in ("lookups", "geo"):
        run = h.sync(entity)
        assert run.status == "succeeded_with_rejects"
        assert run.counts.delisted == 0
    assert delisted(h) == NOTHING_DELISTED


# --- B11: one failing sub-list does not fail the catalogue ---------------------------------


def test_locations_are_asked_for_with_the_country_the_states_came_from(
    h: Harness, answers: Answers
) -> None:
    _, countries = truth_ids(h)
    answers.rewrites[states_path(countries[1])] = drop_field_everywhere("countryID")
    run = h.sync("geo")
    assert run.status == "succeeded", run.error
    assert not any("/countries/0/" in path for path in answers.asked)
    want = expected(h, "geo")
    for table in ("geo_countries", "geo_locations"):  # the states' records were altered
        assert stored(h, table) == want[table]
    assert delisted(h) == NOTHING_DELISTED
    states = {t["country"]["countryID"]: len(t["states"]) for t in h.truth("geo")}
    of_country = h.scalar(
        "SELECT count(*) FROM geo_states WHERE brand = :b AND country_id = :c",
        b=BRAND,
        c=countries[1],
    )
    assert of_country == states[countries[1]]  # the country they were fetched for


def test_a_failing_lookup_is_skipped_recorded_and_kept(h: Harness, answers: Answers) -> None:
    first_sync(h)
    lookups, _ = truth_ids(h)
    path = lookup_values_path(lookups[2])
    answers.rewrites[path] = fail(path)
    run = h.sync("lookups")
    assert run.status == "succeeded_with_rejects", run.error
    assert run.details["skipped_scopes"] == {"lookup_values": 1}
    [(source_id, reason)] = rejects(h, run.run_id)
    assert source_id == str(lookups[2])
    assert path in reason
    assert "503" in reason
    assert delisted(h) == NOTHING_DELISTED  # its stored values stay as they are
    assert_matches_truth(h, "lookups")


def test_a_failing_country_is_skipped_and_its_rows_kept(h: Harness, answers: Answers) -> None:
    first_sync(h)
    _, countries = truth_ids(h)
    path = states_path(countries[3])
    answers.rewrites[path] = fail(path)
    run = h.sync("geo")
    assert run.status == "succeeded_with_rejects", run.error
    assert run.details["skipped_scopes"] == {"geo_states": 1}
    assert [r[0] for r in rejects(h, run.run_id)] == [str(countries[3])]
    assert delisted(h) == NOTHING_DELISTED
    assert_matches_truth(h, "geo")


# --- B12: an empty answer is not trusted ---------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "path"), [("lookups", LOOKUP_NAMES_PATH), ("geo", COUNTRIES_PATH)]
)
def test_an_empty_catalogue_fails_the_run_and_delists_nothing(
    h: Harness, answers: Answers, entity: str, path: str
) -> None:
    first_sync(h)
    answers.rewrites[path] = empty
    run = h.sync(entity)
    assert run.status == "failed"
    assert run.error is not None
    assert "empty" in run.error
    assert path in run.error
    assert delisted(h) == NOTHING_DELISTED


def test_an_empty_sub_list_keeps_the_stored_rows_of_its_parent(
    h: Harness, answers: Answers
) -> None:
    first_sync(h)
    lookups, countries = truth_ids(h)
    answers.rewrites[lookup_values_path(lookups[1])] = empty
    answers.rewrites[states_path(countries[0])] = empty
    for entity in ("lookups", "geo"):
        run = h.sync(entity)
        assert run.status == "succeeded", run.error
        assert run.counts.delisted == 0
    assert delisted(h) == NOTHING_DELISTED
    assert_matches_truth(h, "lookups")
    assert_matches_truth(h, "geo")


def test_a_lookup_no_longer_listed_is_still_delisted(h: Harness, answers: Answers) -> None:
    """What the answer does speak for is still delisted: a lookup gone from the names."""
    first_sync(h)
    lookups, _ = truth_ids(h)
    gone = lookups[-1]
    values = len(h.truth("lookups")[-1]["values"])

    def without_last(body: Any) -> Any:
        records(body).pop()
        return body

    answers.rewrites[LOOKUP_NAMES_PATH] = without_last
    run = h.sync("lookups")
    assert run.status == "succeeded"
    assert run.details["delisted"] == {"lookups": 1, "lookup_values": values}
    assert (
        h.scalar(
            "SELECT count(*) FROM lookup_values WHERE brand = :b AND lookup_id = :l "
            "AND delisted_at IS NOT NULL",
            b=BRAND,
            l=gone,
        )
        == values
    )
