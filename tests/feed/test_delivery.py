"""Webhook delivery against a loopback receiver and a real Postgres: order, batches,
signatures, at-least-once across failures, backoff, pausing, and late commits."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from pydantic import SecretStr

from tests.feed.receiver import Receiver
from worker.config import Webhook
from worker.feed.delivery import Deliverer, backoff_seconds
from worker.feed.signing import signature_header, verify
from worker.feed.store import FeedStore
from worker.sinks.events import FEED_LOCK

SECRET = "whsec-test-7f3a9c"
NOW = 1_800_000_000


def insert_events(engine: sa.Engine | sa.Connection, ids: range, kind: str = "listed") -> None:
    """Events written as the sink writes them: under the feed lock, held shared."""
    lock = sa.text(f"SELECT pg_advisory_xact_lock_shared({FEED_LOCK})")
    statement = sa.text(
        "INSERT INTO sync_events (brand, entity, source_id, kind, payload) "
        "SELECT 'AZURA', 'listing', g, :kind, '{}' FROM unnest(CAST(:ids AS bigint[])) g"
    )
    if isinstance(engine, sa.Connection):
        engine.execute(lock)
        engine.execute(statement, {"ids": list(ids), "kind": kind})
        return
    with engine.begin() as c:
        c.execute(lock)
        c.execute(statement, {"ids": list(ids), "kind": kind})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(SECRET) as r:
        yield r


def subscriber(receiver: Receiver, name: str = "site") -> Webhook:
    return Webhook(name=name, url=SecretStr(receiver.url), secret=SecretStr(SECRET))


class Sleeps:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.seconds.append(seconds)
        return False


def deliverer(
    engine: sa.Engine, receiver: Receiver, sleeps: Sleeps | None = None, **options: int
) -> Deliverer:
    return Deliverer(
        FeedStore(engine),
        [subscriber(receiver)],
        sleep=sleeps or Sleeps(),
        rng=random.Random(1),
        **options,
    )


def test_a_signature_verifies_only_for_its_body_secret_and_time() -> None:
    body = b'{"events": []}'
    header = signature_header(SECRET, NOW, body)
    assert header.startswith(f"t={NOW},v1=")
    assert verify(SECRET, header, body, now=NOW + 10)
    assert not verify(SECRET, header, body + b" ", now=NOW)
    assert not verify("other", header, body, now=NOW)
    assert not verify(SECRET, header, body, now=NOW + 301)
    assert not verify(SECRET, f"t={NOW}", body, now=NOW)
    assert not verify(SECRET, "v1=abc", body, now=NOW)


def test_backoff_doubles_with_full_jitter_up_to_the_cap() -> None:
    rng = random.Random(3)
    draws = [backoff_seconds(n, rng) for n in (1, 2, 3, 4, 20, 20)]
    ceilings = [1, 2, 4, 8, 300, 300]
    assert all(0 <= d <= c for d, c in zip(draws, ceilings, strict=True))
    assert len(set(draws)) == len(draws)  # jittered, not a fixed ladder


def test_new_events_arrive_signed_in_order_in_batches_and_only_once(
    db_engine: sa.Engine, receiver: Receiver
) -> None:
    d = deliverer(db_engine, receiver, batch_size=3)
    insert_events(db_engine, range(1, 3))
    assert d.deliver_all()["site"].delivered == 0  # a new subscriber starts at the present
    insert_events(db_engine, range(10, 20))
    outcome = d.deliver_all()["site"]
    assert outcome.delivered == 10
    assert [len(b["events"]) for b in receiver.batches] == [3, 3, 3, 1]
    events = receiver.events()
    assert [e["source_id"] for e in events] == list(range(10, 20))
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert all(e["idempotency_key"] == f"rei-sync-event-{e['id']}" for e in events)
    assert receiver.bad_signatures == 0
    assert d.deliver_all()["site"].delivered == 0
    assert len(receiver.bodies) == 4


def test_a_failing_receiver_gets_the_same_batch_again_after_a_backoff(
    db_engine: sa.Engine, receiver: Receiver
) -> None:
    sleeps = Sleeps()
    d = deliverer(db_engine, receiver, sleeps, batch_size=5, max_failures=5)
    d.deliver_all()
    insert_events(db_engine, range(1, 8))
    receiver.fail_next = 2
    outcome = d.deliver_all()["site"]
    assert (outcome.delivered, outcome.failures, outcome.paused) == (7, 2, False)
    assert receiver.answers == [500, 500, 204, 204]
    assert receiver.bodies[0] == receiver.bodies[1]  # the batch is sent again, unchanged
    assert [e["source_id"] for e in receiver.events()] == list(range(1, 8))
    assert len(sleeps.seconds) == 2
    assert 0 <= sleeps.seconds[0] <= 1
    assert 0 <= sleeps.seconds[1] <= 2
    cursor = FeedStore(db_engine).cursor("site")
    assert (cursor.failures, cursor.last_error, cursor.paused) == (0, None, False)


def test_a_subscriber_is_paused_after_max_failures_and_resumes_where_it_was(
    db_engine: sa.Engine, receiver: Receiver
) -> None:
    d = deliverer(db_engine, receiver, max_failures=3)
    d.deliver_all()
    insert_events(db_engine, range(1, 4))
    receiver.fail_next = 100
    outcome = d.deliver_all()["site"]
    assert (outcome.delivered, outcome.failures, outcome.paused) == (0, 3, True)
    store = FeedStore(db_engine)
    cursor = store.cursor("site")
    assert cursor.paused
    assert cursor.failures == 3
    assert cursor.last_error == "HTTP 500"
    posts = len(receiver.bodies)
    assert d.deliver_all()["site"].paused
    assert len(receiver.bodies) == posts  # paused: nothing is sent
    assert paused_gauge("site") == 1
    receiver.fail_next = 0
    assert store.resume("site")
    assert d.deliver_all()["site"].delivered == 3
    assert [e["source_id"] for e in receiver.events()] == [1, 2, 3]
    assert paused_gauge("site") == 0


def paused_gauge(subscriber: str) -> float | None:
    return REGISTRY.get_sample_value("rei_sync_webhook_paused", {"subscriber": subscriber})


def test_an_event_committed_late_is_delivered_not_skipped(
    db_engine: sa.Engine, receiver: Receiver
) -> None:
    """Transaction A takes ids 1-2 first but commits after B (3-4): the reader waits for A,
    instead of delivering 3-4 and moving its cursor past 1-2 for good."""
    d = deliverer(db_engine, receiver)
    d.deliver_all()
    with db_engine.connect() as late:
        transaction = late.begin()
        insert_events(late, range(1, 3))
        insert_events(db_engine, range(3, 5))
        reader = threading.Thread(target=d.deliver_all)
        reader.start()
        waiting = sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        with db_engine.connect() as probe:
            while not probe.execute(waiting).scalar_one():
                probe.rollback()
                reader.join(0.01)
                assert reader.is_alive(), "the reader did not wait for the open transaction"
        assert receiver.events() == []
        transaction.commit()
    reader.join(30)
    assert [e["source_id"] for e in receiver.events()] == [1, 2, 3, 4]


def test_an_unreachable_receiver_records_the_error_class_not_the_url(
    db_engine: sa.Engine,
) -> None:
    hook = Webhook(
        name="gone", url=SecretStr("http://127.0.0.1:9/hook?token=s3cr3t"), secret=SecretStr("x")
    )
    d = Deliverer(FeedStore(db_engine), [hook], sleep=Sleeps(), max_failures=1, timeout_seconds=2)
    d.deliver_all()
    insert_events(db_engine, range(1, 2))
    assert d.deliver_all()["gone"].paused
    error = FeedStore(db_engine).cursor("gone").last_error
    assert error == "ConnectionError"
