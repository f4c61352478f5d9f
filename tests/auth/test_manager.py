"""TokenManager with a fake requester and a fake clock, over the memory and the Postgres store."""

from __future__ import annotations

import itertools
import random
import secrets
import threading
from collections.abc import Callable

import pytest
import requests
from prometheus_client import REGISTRY

from tests.auth.conftest import (
    FakeClock,
    FakeRequester,
    SecretLedger,
    StoreFactory,
    make_brands,
)
from worker.auth.endpoint import TokenResponse
from worker.auth.failures import BackoffPolicy
from worker.auth.manager import TokenManager
from worker.auth.store import MemoryTokenStore, Renewal, TokenStore
from worker.auth.token import Token, TokenState, fingerprint
from worker.config import Brand
from worker.errors import (
    AuthError,
    ConfigError,
    PermanentAuthError,
    TokenRefusedError,
    TokenStoreError,
    TransientAuthError,
)
from worker.log import REDACTED, redactor

DAY = 86399


def manager_for(
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
    store: TokenStore | None = None,
    **kwargs: object,
) -> TokenManager:
    return TokenManager(
        brands,
        store=store or MemoryTokenStore(),
        requester=requester,
        clock=clock,
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Wait for another thread to reach a point (not for time to pass)."""
    event = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if condition():
            return True
        event.wait(0.005)
    return condition()


class CountingStore:
    """Wraps a store and counts every call, to prove the FRESH path does no I/O."""

    def __init__(self, inner: TokenStore) -> None:
        self.inner = inner
        self.name = inner.name
        self.loads = 0
        self.renews = 0

    def load(self, brand: str, credentials: str) -> Token | None:
        self.loads += 1
        return self.inner.load(brand, credentials)

    def renew(self, brand: str, credentials: str, renewal: Renewal) -> Token:
        self.renews += 1
        return self.inner.renew(brand, credentials, renewal)

    def close(self) -> None:
        self.inner.close()


def test_first_call_acquires_and_the_second_is_cached(
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
    store_factory: StoreFactory,
) -> None:
    store = CountingStore(store_factory())
    manager = manager_for(brands, requester, clock, store)
    first = manager.get_valid_token("AZURA")
    io_after_first = (store.loads, store.renews)
    clock.advance(3600)
    second = manager.get_valid_token("AZURA")
    assert first == second
    assert requester.calls == 1
    assert (store.loads, store.renews) == io_after_first, "FRESH path touched the store"
    assert not manager.needs_refresh("AZURA")


def test_fresh_path_takes_no_lock(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    manager = manager_for(brands, requester, clock)
    token = manager.get_valid_token("AZURA")
    held = manager._install_lock
    with held:  # another thread installing would hold this; the FRESH path must not care
        assert manager.get_valid_token("AZURA") == token


def test_each_brand_has_its_own_token(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    manager = manager_for(brands, requester, clock)
    assert manager.get_valid_token("AZURA") != manager.get_valid_token("BLUE_OCEAN")
    assert requester.calls == 2


def test_unknown_brand_is_a_config_error(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    manager = manager_for(brands, requester, clock)
    with pytest.raises(ConfigError, match="unknown brand"):
        manager.get_valid_token("NOPE")


def test_stale_serves_the_old_token_at_once_with_one_background_refresh(
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
    store_factory: StoreFactory,
) -> None:
    manager = manager_for(brands, requester, clock, store_factory())
    old = manager.get_valid_token("AZURA")
    clock.advance(DAY - 30 - 1800 + 1)  # past refresh_at, before expiry
    assert manager.status()[0].state is TokenState.STALE
    requester.hold = threading.Event()
    requester.entered.clear()
    served = [manager.get_valid_token("AZURA") for _ in range(50)]
    assert served == [old] * 50
    assert requester.entered.wait(5)
    assert requester.calls == 2, "more than one background refresh started"
    requester.hold.set()
    assert manager.wait_for_background(5)
    new = manager.get_valid_token("AZURA")
    assert new != old
    assert requester.calls == 2
    assert manager.status()[0].state is TokenState.FRESH


def test_sixty_four_threads_on_an_expired_token_make_one_request(
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
    store_factory: StoreFactory,
) -> None:
    manager = manager_for(brands, requester, clock, store_factory())
    manager.get_valid_token("AZURA")
    clock.advance(2 * DAY)
    requester.hold = threading.Event()
    joined_before = metric(
        "rei_sync_token_refreshes_avoided_total", brand="AZURA", reason="in_flight"
    )
    start = threading.Barrier(64)
    results: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        start.wait()
        token = manager.get_valid_token("AZURA")
        with lock:
            results.append(token)

    threads = [threading.Thread(target=call) for _ in range(64)]
    for thread in threads:
        thread.start()

    def joined() -> float:
        name = "rei_sync_token_refreshes_avoided_total"
        return metric(name, brand="AZURA", reason="in_flight") - joined_before

    assert wait_until(lambda: joined() >= 63)
    requester.hold.set()
    for thread in threads:
        thread.join(10)
    assert requester.calls == 2
    assert len(results) == 64
    assert len(set(results)) == 1
    assert results[0] == requester.issued[-1]


def test_replicas_sharing_a_store_make_one_request(
    ledger: SecretLedger,
    requester: FakeRequester,
    clock: FakeClock,
    store_factory: StoreFactory,
) -> None:
    brands = make_brands(ledger, "AZURA")
    replicas = [manager_for(brands, requester, clock, store_factory()) for _ in range(4)]
    tokens = {replica.get_valid_token("AZURA") for replica in replicas}
    assert len(tokens) == 1
    assert requester.calls == 1
    sources = {status.source for replica in replicas for status in replica.status()}
    assert sources == {"api", replicas[0].store_name}


def test_a_replica_whose_token_went_stale_reuses_the_one_another_replica_renewed(
    ledger: SecretLedger,
    requester: FakeRequester,
    clock: FakeClock,
    store_factory: StoreFactory,
) -> None:
    brands = make_brands(ledger, "AZURA")
    first, second = (manager_for(brands, requester, clock, store_factory()) for _ in range(2))
    original = first.get_valid_token("AZURA")
    assert second.get_valid_token("AZURA") == original
    clock.advance(2 * DAY)
    renewed = first.get_valid_token("AZURA")
    before = metric("rei_sync_token_refreshes_avoided_total", brand="AZURA", reason="store")
    assert second.get_valid_token("AZURA") == renewed
    assert requester.calls == 2
    # second's token is EXPIRED, so it renews through the store and finds first's token there
    assert metric("rei_sync_token_refreshes_avoided_total", brand="AZURA", reason="store") == (
        before + 1
    )


def test_force_refresh_after_a_401_replaces_the_token_once(
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
    store_factory: StoreFactory,
) -> None:
    manager = manager_for(brands, requester, clock, store_factory())
    rejected = manager.get_valid_token("AZURA")
    replaced = metric("rei_sync_token_refreshes_avoided_total", brand="AZURA", reason="replaced")
    renewed = manager.force_refresh("AZURA", rejected=rejected)
    assert renewed != rejected
    assert requester.calls == 2
    # a late 401 for the old token: the current one is handed back without a request
    assert manager.force_refresh("AZURA", rejected=rejected) == renewed
    assert requester.calls == 2
    assert manager.get_valid_token("AZURA") == renewed
    assert metric("rei_sync_token_refreshes_avoided_total", brand="AZURA", reason="replaced") == (
        replaced + 1
    )


def test_a_rejected_token_is_not_adopted_back_from_the_store(
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
    store_factory: StoreFactory,
) -> None:
    manager = manager_for(brands, requester, clock, store_factory())
    rejected = manager.get_valid_token("AZURA")
    requester.fail_always = lambda: TransientAuthError("AZURA", "token endpoint answered HTTP 503")
    with pytest.raises(TransientAuthError):
        manager.force_refresh("AZURA", rejected=rejected)
    # the endpoint is down, but the refused token must not be sent again
    with pytest.raises(TransientAuthError):
        manager.get_valid_token("AZURA")
    requester.fail_always = None
    clock.advance(400)
    assert manager.get_valid_token("AZURA") not in (rejected,)


def test_sixteen_concurrent_401s_make_one_request(
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
    store_factory: StoreFactory,
) -> None:
    manager = manager_for(brands, requester, clock, store_factory())
    rejected = manager.get_valid_token("AZURA")
    requester.hold = threading.Event()
    start = threading.Barrier(16)
    results: list[str] = []
    lock = threading.Lock()

    def on_401() -> None:
        start.wait()
        token = manager.force_refresh("AZURA", rejected=rejected)
        with lock:
            results.append(token)

    joined_before = metric(
        "rei_sync_token_refreshes_avoided_total", brand="AZURA", reason="in_flight"
    )
    threads = [threading.Thread(target=on_401) for _ in range(16)]
    for thread in threads:
        thread.start()
    assert requester.entered.wait(5)

    def joined() -> float:
        name = "rei_sync_token_refreshes_avoided_total"
        return metric(name, brand="AZURA", reason="in_flight") - joined_before

    # all fifteen others are waiting on the one request before it is answered
    assert wait_until(lambda: joined() >= 15)
    requester.hold.set()
    for thread in threads:
        thread.join(10)
    assert requester.calls == 2
    assert len(results) == 16
    assert set(results) == {requester.issued[-1]}


class AlwaysUnauthorized(requests.adapters.BaseAdapter):
    """A transport that answers 401 to everything and counts the attempts."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0
        self.tokens_seen: list[str] = []

    def send(
        self, request: requests.PreparedRequest, *_args: object, **_kwargs: object
    ) -> requests.Response:
        self.attempts += 1
        self.tokens_seen.append(str(request.headers.get("Authorization", "")).split()[-1])
        response = requests.Response()
        response.status_code = 401
        response._content = b'{"Message": "Authorization has been denied for this request."}'
        response.headers["Content-Type"] = "application/json"
        response.request = request
        response.url = str(request.url)
        return response

    def close(self) -> None:
        """Nothing to release."""


def test_the_api_client_gives_up_after_its_bound_of_refreshes_when_every_call_is_401(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    from worker.api.client import MAX_TOKEN_REFRESHES_PER_REQUEST, ReiClient

    manager = manager_for(brands, requester, clock)
    transport = AlwaysUnauthorized()
    session = requests.Session()
    session.mount("http://", transport)
    client = ReiClient(brands[0], manager, session=session)
    with pytest.raises(TokenRefusedError) as caught:
        client.get_json("lookups/names")
    assert not isinstance(caught.value, PermanentAuthError | TransientAuthError)
    sent = 1 + MAX_TOKEN_REFRESHES_PER_REQUEST
    assert transport.attempts == sent
    assert requester.calls == sent
    assert transport.tokens_seen == requester.issued[:sent]
    assert len(set(transport.tokens_seen)) == sent  # each retry on a newer token


def test_the_token_refused_on_the_last_retry_is_marked_refused(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    """Point 8(d): a request that gives up still reports its last token as refused."""
    from worker.api.client import ReiClient

    manager = manager_for(brands, requester, clock)
    transport = AlwaysUnauthorized()
    session = requests.Session()
    session.mount("http://", transport)
    with pytest.raises(AuthError):
        ReiClient(brands[0], manager, session=session).get_json("lookups/names")
    assert manager.needs_refresh("AZURA")
    assert manager.next_refresh_at("AZURA") <= clock()
    assert manager.get_valid_token("AZURA") not in transport.tokens_seen


def test_after_a_failed_refresh_no_caller_is_handed_the_refused_token(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    """Point 8(c): a 401 for an older token must not be answered with the refused current one."""
    manager = manager_for(brands, requester, clock)
    older = manager.get_valid_token("AZURA")
    refused = manager.force_refresh("AZURA", rejected=older)
    requester.fail_always = lambda: TransientAuthError("AZURA", "token endpoint answered HTTP 503")
    with pytest.raises(TransientAuthError):
        manager.force_refresh("AZURA", rejected=refused)  # refused; its renewal failed
    # a request still in flight with the older token now meets its 401
    with pytest.raises(TransientAuthError):
        manager.force_refresh("AZURA", rejected=older)
    with pytest.raises(TransientAuthError):
        manager.get_valid_token("AZURA")
    requester.fail_always = None
    clock.advance(120)  # past the backoff
    renewed = manager.force_refresh("AZURA", rejected=older)
    assert renewed not in (older, refused)
    assert manager.get_valid_token("AZURA") == renewed


def test_every_refused_token_stays_refused_after_later_renewals(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    """Repeated revocations: no token the API refused is served, adopted or handed out again."""
    store = MemoryTokenStore()
    manager = manager_for(brands, requester, clock, store)
    refused = [manager.get_valid_token("AZURA")]
    for _revocation in range(5):
        refused.append(manager.force_refresh("AZURA", rejected=refused[-1]))
    current = refused.pop()
    for old in refused:
        assert manager.force_refresh("AZURA", rejected=old) == current
    assert requester.calls == 6
    # a replica that writes an old, refused token back to the store is not believed
    store._rows[("AZURA", brands[0].credentials_fingerprint())] = Token(
        refused[0], clock(), clock() + DAY, clock() + DAY / 2
    )
    assert manager.force_refresh("AZURA", rejected=current) not in (*refused, current)


def test_a_sixty_second_token_with_a_thirty_minute_buffer_does_not_loop(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    requester.expires_in = 60
    manager = manager_for(brands, requester, clock, buffer_seconds=1800)
    hours = 3
    for _second in range(hours * 3600):
        manager.get_valid_token("AZURA")
        manager.wait_for_background(5)
        clock.advance(1)
    # refresh_at is ~20-22.5 s after sending: about 3 requests a minute, never more
    assert hours * 3600 / 23 <= requester.calls <= hours * 3600 / 20 + 1
    gaps = [b - a for a, b in zip(requester.call_times, requester.call_times[1:], strict=False)]
    assert min(gaps) >= 20


def test_refused_keys_open_the_circuit_with_a_capped_growing_cooldown(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    requester.fail_always = lambda: PermanentAuthError(
        "AZURA", "token request refused: HTTP 400 invalid_grant"
    )
    manager = manager_for(
        brands, requester, clock, backoff=BackoffPolicy(permanent_max_seconds=900)
    )
    failures = 0
    for _minute in range(3 * 60):
        try:
            manager.get_valid_token("AZURA")
        except PermanentAuthError:
            failures += 1
        clock.advance(60)
    status = manager.status()[0]
    assert status.state is TokenState.FAILED
    assert status.last_error is not None
    assert "invalid_grant" in status.last_error
    gaps = [b - a for a, b in zip(requester.call_times, requester.call_times[1:], strict=False)]
    assert gaps[:5] == [60, 120, 240, 480, 900]
    assert set(gaps[4:]) == {900}
    assert requester.calls <= 16
    assert failures == 3 * 60, "every call while FAILED raises, at once"
    assert metric("rei_sync_token_circuit_open", brand="AZURA") == 1
    # keys fixed: after the cooldown the next call gets a token and the circuit closes
    requester.fail_always = None
    clock.advance(900)
    manager.get_valid_token("AZURA")
    assert manager.status()[0].state is TokenState.FRESH
    assert metric("rei_sync_token_circuit_open", brand="AZURA") == 0


def test_keys_revoked_while_a_token_is_still_valid_keep_serving_it_until_expiry(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    manager = manager_for(brands, requester, clock)
    token = manager.get_valid_token("AZURA")
    requester.fail_always = lambda: PermanentAuthError("AZURA", "token request refused: HTTP 400")
    clock.advance(DAY - 30 - 1800 + 1)
    assert manager.get_valid_token("AZURA") == token
    manager.wait_for_background(5)
    assert manager.status()[0].state is TokenState.FAILED
    assert manager.get_valid_token("AZURA") == token
    clock.advance(1800)
    with pytest.raises(PermanentAuthError, match="refused"):
        manager.get_valid_token("AZURA")  # the cooldown is over: one more attempt, refused
    calls = requester.calls
    with pytest.raises(PermanentAuthError, match="circuit open"):
        manager.get_valid_token("AZURA")
    assert requester.calls == calls


def test_transient_failures_back_off_with_full_jitter_and_nothing_fails_meanwhile(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    policy = BackoffPolicy(transient_base_seconds=1, transient_max_seconds=64)
    manager = manager_for(brands, requester, clock, backoff=policy)
    token = manager.get_valid_token("AZURA")
    requester.fail_always = lambda: TransientAuthError("AZURA", "token endpoint answered HTTP 503")
    clock.advance(DAY - 30 - 1800)  # exactly refresh_at (jitter aside): STALE within seconds
    stale_from = manager.status()[0].refresh_at
    assert stale_from is not None
    clock.now = stale_from
    for _second in range(1200):
        assert manager.get_valid_token("AZURA") == token
        manager.wait_for_background(5)
        clock.advance(1)
    expected_rng = random.Random(7)
    attempts = requester.call_times[1:]
    assert len(attempts) >= 8
    for n, (previous, current) in enumerate(itertools.pairwise(attempts), start=1):
        drawn = policy.delay(False, n, expected_rng)
        assert drawn <= current - previous < drawn + 1.0 + 1e-9
    # the old token expires while the endpoint is still down: now callers get a retryable error
    clock.now = manager.status()[0].expires_at or 0.0
    with pytest.raises(TransientAuthError) as caught:
        manager.get_valid_token("AZURA")
    assert caught.value.retryable
    requester.fail_always = None
    clock.advance(64)
    assert manager.get_valid_token("AZURA") != token


def test_changed_credentials_get_a_new_token(
    ledger: SecretLedger,
    requester: FakeRequester,
    clock: FakeClock,
    store_factory: StoreFactory,
) -> None:
    old_keys = make_brands(ledger, "AZURA", suffix="old")
    new_keys = make_brands(ledger, "AZURA", suffix="new")
    before = manager_for(old_keys, requester, clock, store_factory())
    after = manager_for(new_keys, requester, clock, store_factory())
    old = before.get_valid_token("AZURA")
    new = after.get_valid_token("AZURA")
    assert old != new
    assert requester.calls == 2
    store = store_factory()
    assert store.load("AZURA", old_keys[0].credentials_fingerprint()) is None
    assert store.load("AZURA", new_keys[0].credentials_fingerprint()) is not None


def test_clock_skew_from_the_date_header_is_measured_and_warned_about(
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
    leak_guard: object,
) -> None:
    requester.server_date_offset = 120
    manager = manager_for(brands, requester, clock)
    manager.get_valid_token("AZURA")
    assert metric("rei_sync_token_clock_skew_seconds", brand="AZURA") == 120
    assert '"token.clock_skew"' in leak_guard.getvalue()  # type: ignore[attr-defined]
    requester.server_date_offset = -2
    manager.force_refresh("BLUE_OCEAN")
    assert metric("rei_sync_token_clock_skew_seconds", brand="BLUE_OCEAN") == -2


def test_status_and_metrics_show_times_and_fingerprints_only(
    ledger: SecretLedger,
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
) -> None:
    manager = manager_for(brands, requester, clock)
    token = manager.get_valid_token("AZURA")
    azura, blue = manager.status()
    assert azura.state is TokenState.FRESH
    assert blue.state is TokenState.MISSING
    assert azura.fingerprint == fingerprint(token)
    assert azura.source == "api"
    assert azura.store == "memory"
    assert azura.expires_at == clock() + DAY - 30
    assert metric("rei_sync_token_expiry_timestamp_seconds", brand="AZURA") == clock() + DAY - 30
    assert metric("rei_sync_token_refresh_timestamp_seconds", brand="AZURA") == azura.refresh_at
    assert metric("rei_sync_token_state", brand="AZURA", state="fresh") == 1
    assert metric("rei_sync_token_state", brand="BLUE_OCEAN", state="missing") == 1
    # No token, no timestamp: an alert on "renewal late" has nothing to fire on.
    no_token = {"brand": "BLUE_OCEAN"}
    assert REGISTRY.get_sample_value("rei_sync_token_expiry_timestamp_seconds", no_token) is None
    for text in (repr(manager), repr(manager.status()), repr(brands)):
        ledger.assert_clean(text, "a repr")
    from prometheus_client import generate_latest

    ledger.assert_clean(generate_latest(REGISTRY).decode(), "the metrics page")


def test_listeners_hear_every_new_token(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    manager = manager_for(brands, requester, clock)
    heard: list[tuple[str, str]] = []
    manager.add_listener(lambda brand, token: heard.append((brand, token.fingerprint)))
    manager.get_valid_token("AZURA")
    manager.force_refresh("AZURA")
    assert [brand for brand, _ in heard] == ["AZURA", "AZURA"]
    assert heard[0][1] != heard[1][1]


def test_close_joins_a_running_background_refresh(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    manager = manager_for(brands, requester, clock)
    manager.get_valid_token("AZURA")
    clock.advance(DAY - 1000)
    requester.hold = threading.Event()
    manager.get_valid_token("AZURA")
    assert requester.entered.wait(5)
    closer = threading.Thread(target=manager.close)
    closer.start()
    requester.hold.set()
    closer.join(5)
    assert not closer.is_alive()
    assert requester.calls == 2


class SlowRequester(FakeRequester):
    """A token endpoint whose answer takes `latency` simulated seconds."""

    latency = 0.0

    def __call__(self, brand: Brand) -> TokenResponse:
        response = super().__call__(brand)
        self.clock.advance(self.latency)
        return response


def test_a_slow_endpoint_and_a_short_lifetime_do_not_renew_on_every_call(
    ledger: SecretLedger, brands: tuple[Brand, ...], clock: FakeClock
) -> None:
    requester = SlowRequester(ledger, clock, expires_in=60)
    requester.latency = 25
    manager = manager_for(brands, requester, clock, buffer_seconds=1800)
    started = clock()
    served = 0
    while clock() < started + 3 * 3600:
        assert manager.get_valid_token("AZURA")
        served += 1
        manager.wait_for_background(5)
        clock.advance(1)
    # each token arrives 25 s after it was asked for, with ~20 s left: it is FRESH for half
    # of that (10 s), so a request goes out every ~35 s, not on every call
    gaps = [b - a for a, b in itertools.pairwise(requester.call_times)]
    assert min(gaps) >= 35
    assert requester.calls <= 3 * 3600 / 35 + 1
    assert requester.calls * 5 < served


def test_an_endpoint_slower_than_the_token_lifetime_backs_off_instead_of_serving_dead_tokens(
    ledger: SecretLedger, brands: tuple[Brand, ...], clock: FakeClock
) -> None:
    requester = SlowRequester(ledger, clock, expires_in=60)
    requester.latency = 50
    manager = manager_for(brands, requester, clock, buffer_seconds=1800)
    started = clock()
    refused = 0
    while clock() < started + 3 * 3600:
        with pytest.raises(TransientAuthError):
            manager.get_valid_token("AZURA")  # never a token that expired before it arrived
        refused += 1
        clock.advance(1)
    status = manager.status()[0]
    assert status.last_error is not None
    assert "slower than the token lifetime" in status.last_error
    assert status.retry_at is not None
    # backoff (full jitter, up to 300 s) spaces the requests out: far fewer than one per call
    assert requester.calls < 3 * 3600 / 100
    assert refused > requester.calls * 10


def test_a_refused_token_read_before_a_racing_install_is_not_put_back_on_the_fast_path(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    """Thread A reads the slot's token T; while it is preempted, thread B gets a 401 for T,
    renews it (T2) and clears the refused mark. A must not then publish T over T2."""
    manager = manager_for(brands, requester, clock)
    refused = manager.get_valid_token("AZURA")
    requester.script.append(TransientAuthError("AZURA", "token endpoint answered HTTP 503"))
    with pytest.raises(TransientAuthError):
        manager.force_refresh("AZURA", rejected=refused)  # T refused, renewal failed
    clock.advance(5)  # past the backoff
    slot = manager._slots["AZURA"]
    reader = threading.current_thread()
    raced: list[str] = []

    def race() -> None:
        worker = threading.Thread(
            target=lambda: raced.append(manager.force_refresh("AZURA", rejected=refused))
        )
        worker.start()
        worker.join(10)

    class PreemptedSlot(type(slot)):  # type: ignore[misc]
        @property
        def token(self) -> Token | None:
            value: Token | None = self.__dict__["token"]
            if threading.current_thread() is reader and not raced:
                race()  # B runs to completion between A's read and A's next step
            return value

        @token.setter
        def token(self, value: Token | None) -> None:
            self.__dict__["token"] = value

    slot.__class__ = PreemptedSlot
    served = manager.get_valid_token("AZURA")
    slot.__class__ = PreemptedSlot.__mro__[1]
    assert len(raced) == 1
    renewed = raced[0]
    assert renewed != refused
    assert served != refused
    assert manager.get_valid_token("AZURA") == renewed
    assert manager._serving["AZURA"].access_token == renewed


class BrokenStore(CountingStore):
    """`renew` crashes with a non-auth error (a bug, a driver error nobody translated)."""

    def renew(self, brand: str, credentials: str, renewal: Renewal) -> Token:
        self.renews += 1
        raise RuntimeError("store bug")


def test_a_crash_inside_a_refresh_goes_through_the_failure_gate(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    store = BrokenStore(MemoryTokenStore())
    manager = manager_for(brands, requester, clock, store)
    with pytest.raises(TransientAuthError, match="token refresh crashed: RuntimeError") as caught:
        manager.get_valid_token("AZURA")
    assert isinstance(caught.value.__cause__, RuntimeError)
    status = manager.status()[0]
    assert status.last_error == "token refresh crashed: RuntimeError"
    assert status.retry_at is not None
    # the gate is closed: the next call fails at once, without another crashing attempt
    with pytest.raises(TransientAuthError, match="next attempt in"):
        manager.get_valid_token("AZURA")
    assert store.renews == 1


def test_a_stale_token_whose_background_refresh_crashes_backs_off(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    store = CountingStore(MemoryTokenStore())
    manager = manager_for(brands, requester, clock, store)
    token = manager.get_valid_token("AZURA")
    store.__class__ = BrokenStore
    clock.advance(DAY - 30 - 1800 + 1)
    for _ in range(20):
        assert manager.get_valid_token("AZURA") == token
        manager.wait_for_background(5)
    assert store.renews == 2, "every STALE call started another crashing refresh"
    assert manager.status()[0].last_error == "token refresh crashed: RuntimeError"


class UnwritableStore(CountingStore):
    """Reads work; writing the renewed token fails (database gone read-only, say)."""

    def renew(self, brand: str, credentials: str, renewal: Renewal) -> Token:
        self.renews += 1
        renewal(self.inner.load(brand, credentials))
        raise TokenStoreError(brand, "token store write failed: read-only transaction")


def test_a_token_acquired_when_the_store_write_fails_is_still_used(
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
    leak_guard: object,
) -> None:
    manager = manager_for(brands, requester, clock, UnwritableStore(MemoryTokenStore()))
    token = manager.get_valid_token("AZURA")
    assert token == requester.issued[-1]
    clock.advance(3600)
    assert manager.get_valid_token("AZURA") == token
    assert requester.calls == 1
    assert manager.status()[0].state is TokenState.FRESH
    assert '"token.store_write_failed"' in leak_guard.getvalue()  # type: ignore[attr-defined]


def test_a_token_adopted_through_renew_is_registered_with_the_redactor(
    brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock
) -> None:
    store = MemoryTokenStore()
    manager = manager_for(brands, requester, clock, store)
    manager.get_valid_token("AZURA")
    clock.advance(2 * DAY)  # expired: the next call renews through the store
    credentials = brands[0].credentials_fingerprint()
    # another process renewed it meanwhile; this process never saw that token
    other = "from-another-replica-" + secrets.token_hex(6)
    store.renew(
        "AZURA",
        credentials,
        lambda _stored: Token(other, clock(), clock() + DAY, clock() + DAY / 2),
    )
    assert manager.get_valid_token("AZURA") == other
    assert requester.calls == 1
    assert redactor.scrub(f"sent {other} to the API") == f"sent {REDACTED} to the API"


def test_close_releases_the_session_the_manager_made_but_not_a_given_one(
    brands: tuple[Brand, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[requests.Session] = []
    original = requests.Session.close

    def close(self: requests.Session) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(requests.Session, "close", close)
    TokenManager(brands).close()
    assert len(closed) == 1
    given = requests.Session()
    TokenManager(brands, session=given).close()
    assert given not in closed
    given.close()


class UnstartableThread(threading.Thread):
    """The interpreter cannot start another thread (out of threads or memory)."""

    def start(self) -> None:
        raise RuntimeError("can't start new thread")


def test_a_background_refresh_whose_thread_fails_to_start_does_not_block_the_brand(
    brands: tuple[Brand, ...],
    requester: FakeRequester,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Point 8(b): the flight the refresher led is landed, not left registered."""
    manager = manager_for(brands, requester, clock, wait_timeout_seconds=0.5)
    token = manager.get_valid_token("AZURA")
    clock.advance(DAY - 30 - 1800 + 1)  # STALE: a background refresh is due
    with monkeypatch.context() as patched:
        patched.setattr("worker.auth.refresher.threading.Thread", UnstartableThread)
        assert manager.get_valid_token("AZURA") == token  # still served at once
    assert not manager._flights.in_flight("AZURA")
    clock.advance(1800)  # EXPIRED: the next caller must lead a refresh, not wait for a ghost
    renewed = manager.get_valid_token("AZURA")
    assert renewed != token
    assert requester.calls == 2
