"""Job leases against real Postgres: one holder at a time, expiry by an injected clock."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from worker.errors import LeaseBusyError
from worker.leases import Lease, LeaseStore, job_key, lease_engine

KEY = job_key("AZURA", "properties")


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store_for(db_engine: sa.Engine, clock: FakeClock) -> Callable[[str], LeaseStore]:
    def make(holder: str) -> LeaseStore:
        return LeaseStore(db_engine, holder=holder, ttl_seconds=60, clock=clock)

    return make


def test_second_holder_is_refused_while_the_first_holds(
    store_for: Callable[[str], LeaseStore],
) -> None:
    a, b = store_for("a"), store_for("b")
    assert a.try_acquire(KEY) is not None
    assert b.try_acquire(KEY) is None
    assert b.holder_of(KEY) == "a"
    with pytest.raises(LeaseBusyError, match="held by a"):
        b.acquire(KEY)


def test_keys_are_independent(store_for: Callable[[str], LeaseStore]) -> None:
    a, b = store_for("a"), store_for("b")
    assert a.try_acquire(KEY) is not None
    assert b.try_acquire(job_key("AZURA", "associates")) is not None


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew(
    store_for: Callable[[str], LeaseStore], clock: FakeClock
) -> None:
    a, b = store_for("a"), store_for("b")
    assert a.try_acquire(KEY) is not None
    clock.now += 59
    assert b.try_acquire(KEY) is None
    clock.now += 1
    assert b.try_acquire(KEY) is not None
    assert not a.renew(KEY)
    a.release(KEY)  # a stale holder's release must not free b's lease
    assert store_for("c").try_acquire(KEY) is None


def test_renewal_pushes_the_expiry_out(
    store_for: Callable[[str], LeaseStore], clock: FakeClock
) -> None:
    a, b = store_for("a"), store_for("b")
    assert a.try_acquire(KEY) is not None
    clock.now += 50
    assert a.renew(KEY)
    clock.now += 50
    assert b.try_acquire(KEY) is None
    clock.now += 11
    assert b.try_acquire(KEY) is not None


def test_release_frees_the_key_at_once(store_for: Callable[[str], LeaseStore]) -> None:
    a, b = store_for("a"), store_for("b")
    lease = a.try_acquire(KEY)
    assert lease is not None
    with lease:
        assert b.try_acquire(KEY) is None
    assert b.try_acquire(KEY) is not None


def test_many_racing_holders_get_exactly_one_lease(db_engine: sa.Engine) -> None:
    stores = [LeaseStore(db_engine, holder=f"h{i}", ttl_seconds=60) for i in range(8)]
    barrier = threading.Barrier(len(stores))
    won: list[Lease] = []

    def race(store: LeaseStore) -> None:
        barrier.wait()
        lease = store.try_acquire(KEY)
        if lease is not None:
            won.append(lease)

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


def test_keeper_renews_and_reports_a_lost_lease(db_engine: sa.Engine) -> None:
    """Real time here: a 0.3 s TTL renewed every 0.1 s; the lease is stolen under it."""
    a = LeaseStore(db_engine, holder="a", ttl_seconds=0.3)
    lease = a.try_acquire(KEY)
    assert lease is not None
    lost = threading.Event()
    lease.keep(on_lost=lost.set)
    with db_engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE job_leases SET holder = 'thief' WHERE job_key = :k"), {"k": KEY}
        )
    assert lost.wait(5)
    assert lease.lost.is_set()
    lease.release()
    assert a.holder_of(KEY) == "thief"


def test_acquire_with_wait_gets_the_lease_once_freed(db_engine: sa.Engine) -> None:
    a = LeaseStore(db_engine, holder="a", ttl_seconds=30)
    b = LeaseStore(db_engine, holder="b", ttl_seconds=30)
    held = a.try_acquire(KEY)
    assert held is not None
    threading.Timer(0.2, held.release).start()
    lease = b.acquire(KEY, wait=True, poll_seconds=0.05)
    assert lease.key == KEY
    assert b.holder_of(KEY) == "b"


class FailingRenewals(LeaseStore):
    """A store whose renewals raise (database down, pool exhausted); acquiring still works."""

    def renew(self, key: str) -> bool:
        raise sa.exc.OperationalError("UPDATE job_leases", {}, Exception("connection refused"))


def renew_failures(key: str) -> float:
    labels = {"job_key": key, "outcome": "failed"}
    return REGISTRY.get_sample_value("rei_sync_lease_renewals_total", labels) or 0.0


def test_failing_renewals_signal_a_lost_lease_before_it_lapses(
    db_engine: sa.Engine, clock: FakeClock
) -> None:
    """Injected monotonic clock, renewals called by hand: TTL 60 s, renewed every 20 s."""
    mono = FakeClock(1000.0)
    store = FailingRenewals(
        db_engine, holder="a", ttl_seconds=60, clock=clock, monotonic_clock=mono
    )
    lease = store.try_acquire(KEY)
    assert lease is not None
    lost: list[str] = []
    lease._on_lost = lambda: lost.append("lost")
    before = renew_failures(KEY)

    mono.now += 20
    assert lease.renew_once()  # one failure, 20 s since the last good renewal: keep going
    assert not lease.lost.is_set()
    mono.now += 19.9
    assert lease.renew_once()
    assert not lease.lost.is_set()
    mono.now += 0.1  # 40 s = ttl - interval: the next renewal would come too late
    assert not lease.renew_once()
    assert lease.lost.is_set()
    assert lost == ["lost"]
    assert renew_failures(KEY) == before + 3


def test_a_good_renewal_resets_the_failure_window(db_engine: sa.Engine, clock: FakeClock) -> None:
    mono = FakeClock(1000.0)
    store = LeaseStore(db_engine, holder="a", ttl_seconds=60, clock=clock, monotonic_clock=mono)
    lease = store.try_acquire(KEY)
    assert lease is not None
    healthy = store.renew
    failing = FailingRenewals.renew.__get__(store)
    store.renew = failing  # type: ignore[method-assign]
    mono.now += 30
    assert lease.renew_once()
    store.renew = healthy  # type: ignore[method-assign]
    mono.now += 5
    assert lease.renew_once()  # renewed at 35 s
    store.renew = failing  # type: ignore[method-assign]
    mono.now += 39
    assert lease.renew_once()  # 39 s since the good one
    assert not lease.lost.is_set()
    mono.now += 1
    assert not lease.renew_once()
    assert lease.lost.is_set()


def test_keeper_thread_stops_the_job_when_renewals_keep_failing(db_engine: sa.Engine) -> None:
    """Real keeper thread, 0.3 s TTL: the loss is signalled within the TTL (a bounded wait)."""
    store = FailingRenewals(db_engine, holder="a", ttl_seconds=0.3)
    lease = store.try_acquire(KEY)
    assert lease is not None
    stop = threading.Event()
    lease.keep(on_lost=stop.set)
    assert stop.wait(5)
    assert lease.lost.is_set()
    lease.release()


def test_keep_twice_starts_one_keeper(db_engine: sa.Engine) -> None:
    store = LeaseStore(db_engine, holder="a", ttl_seconds=30)
    lease = store.try_acquire(KEY)
    assert lease is not None
    lease.keep()
    keeper = lease._keeper
    with lease:  # __enter__ after keep(): still the same keeper
        lease.keep()
        assert lease._keeper is keeper
        assert [t.name for t in threading.enumerate()].count(f"lease:{KEY}") == 1
    assert store.holder_of(KEY) is None


def test_lease_engine_has_its_own_small_pool(db_engine: sa.Engine) -> None:
    engine = lease_engine(db_engine, pool_timeout=0.5)
    try:
        assert engine.pool is not db_engine.pool
        assert engine.pool.timeout() == 0.5  # type: ignore[attr-defined]
        store = LeaseStore(engine, holder="a", ttl_seconds=30)
        assert store.try_acquire(KEY) is not None
        assert LeaseStore(db_engine, holder="b").holder_of(KEY) == "a"
    finally:
        engine.dispose()
