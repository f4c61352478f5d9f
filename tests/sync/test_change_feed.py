"""The change feed against the sandbox's truth: exactly one set of events per real change."""

from __future__ import annotations

from typing import Any

from tests.sync.conftest import BRAND, Harness
from worker.db.schema import PROPERTIES_TABLE, Row
from worker.sinks.events import CURRENT_RUN
from worker.sync.normalise import normalise_property

CHANGE_KINDS = {"price_changed", "price_hidden", "status_changed", "details_changed"}


def _by_id(records: list[dict[str, Any]], key: str) -> dict[int, dict[str, Any]]:
    return {int(r[key]): r for r in records}


def _diff(before: dict[int, Any], after: dict[int, Any]) -> dict[str, set[int]]:
    return {
        "added": set(after) - set(before),
        "removed": set(before) - set(after),
        "changed": {i for i in set(before) & set(after) if before[i] != after[i]},
    }


def _events(h: Harness, after: int, entity: str) -> dict[str, set[int]]:
    kinds: dict[str, set[int]] = {}
    for kind, source_id in h.query(
        "SELECT kind, source_id FROM sync_events WHERE id > :after AND entity = :entity",
        after=after,
        entity=entity,
    ):
        kinds.setdefault(kind, set()).add(int(source_id))
    return kinds


def _last_event(h: Harness) -> int:
    return int(h.scalar("SELECT coalesce(max(id), 0) FROM sync_events"))


def _scan(h: Harness) -> None:
    for entity in ("properties", "associates"):
        assert h.sync(entity).status == "succeeded"


def test_events_are_exactly_the_sandbox_churn_and_a_quiet_rescan_adds_none(
    harness: Harness,
) -> None:
    h = harness
    _scan(h)
    listings = _by_id(h.truth("properties"), "listingId")
    agents = _by_id(h.truth("associates"), "associateID")
    cold = _events(h, 0, "listing")
    assert cold.keys() == {"listed"}
    assert cold["listed"] == set(listings)
    assert _events(h, 0, "agent") == {"agent_joined": set(agents)}
    mark = _last_event(h)

    h.epoch(changed=0.1, removed=0.05, added=0.05)
    _scan(h)
    listing_truth = _diff(listings, _by_id(h.truth("properties"), "listingId"))
    agent_truth = _diff(agents, _by_id(h.truth("associates"), "associateID"))
    assert all(listing_truth.values())
    assert all(agent_truth.values())
    listing = _events(h, mark, "listing")
    assert listing.get("listed", set()) == listing_truth["added"]
    assert listing.get("delisted", set()) == listing_truth["removed"]
    changed = set().union(*(ids for kind, ids in listing.items() if kind in CHANGE_KINDS))
    assert changed == listing_truth["changed"]
    assert listing.get("images_changed", set()) <= listing_truth["changed"]
    agent = _events(h, mark, "agent")
    assert agent.get("agent_joined", set()) == agent_truth["added"]
    assert agent.get("agent_left", set()) == agent_truth["removed"]
    assert agent.get("agent_changed", set()) == agent_truth["changed"]
    runs = {
        int(r) for (r,) in h.query("SELECT DISTINCT run_id FROM sync_events WHERE id > :m", m=mark)
    }
    assert runs
    assert all(h.store.get_run(r) is not None for r in runs)
    assert CURRENT_RUN.get() is None  # a finished run leaves no run id behind

    quiet = _last_event(h)
    _scan(h)
    assert _last_event(h) == quiet


def test_price_events_carry_public_prices_and_never_a_hidden_one(harness: Harness) -> None:
    h = harness
    assert h.sync("properties").status == "succeeded"
    mark = _last_event(h)
    h.epoch(changed=0.3, removed=0, added=0)
    assert h.sync("properties").status == "succeeded"
    rows = h.query(
        "SELECT e.kind, e.payload, p.list_price, pp.raw ->> 'listPrice' FROM sync_events e "
        "JOIN properties p ON p.brand = e.brand AND p.listing_id = e.source_id "
        "JOIN properties_private pp ON pp.brand = e.brand AND pp.listing_id = e.source_id "
        "WHERE e.id > :m",
        m=mark,
    )
    priced = [r for r in rows if r[0] == "price_changed"]
    assert priced
    for kind, payload, public_price, private_price in rows:
        if kind == "price_changed":
            assert public_price is not None
            assert float(payload["price"]) == float(public_price)
            assert payload["old_price"] != payload["price"] or "currency_id" in payload
        if private_price is not None:
            assert kind != "price_changed", payload
            text = str(payload)
            assert private_price not in text
    history = h.query(
        "SELECT listing_id, kind, price FROM listing_price_history WHERE kind = 'price_changed'"
    )
    assert len(history) == len(priced)


def test_a_price_made_private_is_reported_hidden_and_a_hidden_one_never_moves(
    harness: Harness,
) -> None:
    """Straight through the sink: public price → private (price_hidden, no value) → the
    private price changes (no event at all) → public again (price_changed from nothing)."""
    h = harness
    raw = next(r for r in h.truth("properties") if not r.get("listPricePrivateYN"))
    price = raw["listPrice"]

    def write(**changes: Any) -> list[tuple[str, dict[str, Any]]]:
        mark = _last_event(h)
        row = normalise_property({**raw, **changes})
        assert isinstance(row, Row)
        token = CURRENT_RUN.set(None)
        try:
            h.store.upsert(PROPERTIES_TABLE, BRAND, [row])
        finally:
            CURRENT_RUN.reset(token)
        return [
            (k, p)
            for k, p in h.query(
                "SELECT kind, payload FROM sync_events WHERE id > :m ORDER BY id", m=mark
            )
        ]

    assert [k for k, _ in write()] == ["listed"]
    hidden = write(listPricePrivateYN=True, listPrice=price + 777)
    assert hidden == [("price_hidden", {})]
    assert write(listPricePrivateYN=True, listPrice=price + 999) == []
    shown = write(listPricePrivateYN=False, listPrice=price - 500)
    assert [k for k, _ in shown] == ["price_changed"]
    assert shown[0][1]["old_price"] is None
    assert float(shown[0][1]["price"]) == float(price - 500)
    text = str(h.query("SELECT payload::text FROM sync_events"))
    assert str(price + 777) not in text
    assert str(price + 999) not in text
