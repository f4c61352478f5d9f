"""The daemon delivers the change feed to a loopback receiver: every event at least once, in
order, every signature valid, across a receiver answering 500 for a while and a kill -9 of
the daemon in the middle of a delivery; and no private value in any webhook body."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.daemon.conftest import DaemonFactory, wait_for
from tests.feed.receiver import Receiver
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sync.normalise import PROPERTY_PRIVATE_FIELDS

pytestmark = pytest.mark.slow

SECRET = "whsec-daemon-5c2e81"
FAILURES = 3
HELD_POST = FAILURES + 2
"""The POST held open when the daemon is killed: the 500s, one delivered batch, then this."""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(seed=8, listings=120, associates=12, brands=("AZURA",))
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        yield server


def truth(sandbox: SandboxServer, entity: str) -> list[dict[str, Any]]:
    import orjson

    response = requests.get(
        f"{sandbox.admin_url}/truth", params={"brand": "AZURA", "entity": entity}, timeout=30
    )
    response.raise_for_status()
    return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]


def first_seen(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[int] = set()
    unique = []
    for event in events:
        if event["id"] not in seen:
            seen.add(event["id"])
            unique.append(event)
    return unique


def test_every_event_arrives_signed_in_order_across_500s_and_a_kill_9(
    sandbox: SandboxServer,
    daemon_env: Callable[..., dict[str, str]],
    start_daemon: DaemonFactory,
    db_engine: sa.Engine,
) -> None:
    with Receiver(SECRET) as receiver:
        receiver.fail_next = FAILURES
        receiver.hold_at = HELD_POST
        env = daemon_env(
            sandbox,
            RUN_AT_START="1",
            SYNC_PROPERTIES_SCHEDULE="1h",
            SYNC_ASSOCIATES_SCHEDULE="1h",
            REI_WEBHOOK_SITE_URL=receiver.url,
            REI_WEBHOOK_SITE_SECRET=SECRET,
            WEBHOOK_BATCH_SIZE="20",
            WEBHOOK_MAX_FAILURES="50",
            WEBHOOK_POLL_SECONDS="0.5",
        )
        first = start_daemon(env)
        assert receiver.held.wait(90), "no delivery reached the held POST"
        first.kill()  # SIGKILL while the receiver holds a batch open
        receiver.release.set()

        def stored() -> list[int]:
            with db_engine.connect() as c:
                ids = c.execute(sa.text("SELECT id FROM sync_events ORDER BY id")).scalars()
                return list(ids)

        second = start_daemon(env)
        wait_for(
            lambda: stored() and {e["id"] for e in receiver.events()} >= set(stored()),
            90,
            "every stored event at the receiver",
        )
        page = second.get("/").text
        metrics = second.get("/metrics").text
        second.terminate()
    events = receiver.events()
    ids = stored()
    assert len(ids) >= 120 + 12  # listed + agent_joined
    assert receiver.bad_signatures == 0
    assert receiver.answers[:FAILURES] == [500] * FAILURES
    assert len(events) > len(ids)  # the batch held at the kill came again: at least once
    unique = first_seen(events)
    assert [e["id"] for e in unique] == ids  # each once, in feed order
    by_listing: dict[tuple[str, int], list[int]] = {}
    for event in events:
        by_listing.setdefault((event["entity"], event["source_id"]), []).append(event["id"])
    for sequence in by_listing.values():
        firsts = list(dict.fromkeys(sequence))
        assert firsts == sorted(firsts)
    assert "site" in page
    assert "Changes" in page
    assert 'rei_sync_webhook_events_delivered_total{subscriber="site"}' in metrics
    private = {
        str(record[field])
        for record in truth(sandbox, "properties")
        for field in PROPERTY_PRIVATE_FIELDS
        if isinstance(record.get(field), str) and len(record[field]) >= 8
    }
    hidden = {r["listingId"] for r in truth(sandbox, "properties") if r.get("listPricePrivateYN")}
    assert private
    assert hidden
    bodies = b"\n".join(receiver.bodies).decode()
    assert [v for v in private if v in bodies] == []
    for event in unique:
        if event["source_id"] in hidden and event["entity"] == "listing":
            assert event["data"].get("price") is None, event
