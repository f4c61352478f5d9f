"""Compare what the database holds with the sandbox's `/_sandbox/truth`, by key and content hash."""

from __future__ import annotations

from typing import Any

from tests.sync.conftest import BRAND, Harness
from worker.db.schema import Row
from worker.sync.normalise import normalise_associate, normalise_property
from worker.sync.records import (
    lookup_value_normaliser,
    normalise_country,
    normalise_image,
    normalise_location,
    normalise_lookup,
    normalise_state,
)

Keyed = set[tuple[Any, ...]]


def _row(result: Any) -> Row:
    assert isinstance(result, Row), result
    return result


def expected(h: Harness, entity: str) -> dict[str, Keyed]:
    """table → {(key…, content_hash)} the truth implies."""
    truth = h.truth(entity)
    if entity == "properties":
        rows = [_row(normalise_property(t)) for t in truth]
        return {
            "properties": {(r.source_id, r.content_hash) for r in rows},
            "properties_private": {(r.source_id, r.private_hash) for r in rows},
        }
    if entity == "associates":
        rows = [_row(normalise_associate(t)) for t in truth]
        return {
            "associates": {(r.source_id, r.content_hash) for r in rows},
            "associates_private": {(r.source_id, r.private_hash) for r in rows},
        }
    if entity == "images":
        rows = [_row(normalise_image(t)) for t in truth]
        return {"property_images": {(r.scope_id, r.source_id, r.content_hash) for r in rows}}
    if entity == "lookups":
        names = [_row(normalise_lookup(t["lookup"])) for t in truth]
        values = [
            _row(lookup_value_normaliser(n.source_id)(v))
            for n, t in zip(names, truth, strict=True)
            for v in t["values"]
        ]
        return {
            "lookups": {(r.source_id, r.content_hash) for r in names},
            "lookup_values": {(r.scope_id, r.source_id, r.content_hash) for r in values},
        }
    assert entity == "geo"
    countries = [_row(normalise_country(t["country"])) for t in truth]
    states = [_row(normalise_state(s["state"])) for t in truth for s in t["states"]]
    locations = [
        _row(normalise_location(loc)) for t in truth for s in t["states"] for loc in s["locations"]
    ]
    return {
        "geo_countries": {(r.source_id, r.content_hash) for r in countries},
        "geo_states": {(r.source_id, r.content_hash) for r in states},
        "geo_locations": {(r.source_id, r.content_hash) for r in locations},
    }


KEYS = {
    "properties": "listing_id",
    "properties_private": "listing_id",
    "associates": "associate_id",
    "associates_private": "associate_id",
    "property_images": "listing_id, photo_id",
    "lookups": "lookup_id",
    "lookup_values": "lookup_id, value_id",
    "geo_countries": "country_id",
    "geo_states": "state_id",
    "geo_locations": "location_id",
}
PRIVATE_OF = {"properties_private": "properties", "associates_private": "associates"}


def stored(h: Harness, table: str) -> Keyed:
    """Active rows of `table` as (key…, content_hash)."""
    if table in PRIVATE_OF:
        public = PRIVATE_OF[table]
        key = KEYS[table]
        sql = (
            f"SELECT p.{key}, p.content_hash FROM {table} p JOIN {public} t "
            f"USING (brand, {key}) WHERE p.brand = :b AND t.delisted_at IS NULL"
        )
    elif table == "property_images":
        sql = (
            "SELECT i.listing_id, i.photo_id, i.content_hash FROM property_images i "
            "JOIN properties p USING (brand, listing_id) "
            "WHERE i.brand = :b AND p.delisted_at IS NULL"
        )
    else:
        sql = f"SELECT {KEYS[table]}, content_hash FROM {table} WHERE brand = :b "
        sql += "AND delisted_at IS NULL"
    return {tuple(r) for r in h.query(sql, b=BRAND)}


def assert_matches_truth(h: Harness, entity: str) -> None:
    for table, want in expected(h, entity).items():
        have = stored(h, table)
        assert have == want, (
            f"{table}: {len(have - want)} unexpected, {len(want - have)} missing "
            f"(e.g. {sorted(have - want)[:2]} / {sorted(want - have)[:2]})"
        )
