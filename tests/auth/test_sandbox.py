"""The token manager against the sandbox's real token endpoint, counted by its stats."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
import requests
from prometheus_client import REGISTRY

from tests.auth.conftest import DAY_SECONDS, FakeClock, RecordingRequester, Sandbox, SecretLedger
from worker.api.client import ReiClient
from worker.auth.endpoint import request_token
from worker.auth.manager import TokenManager
from worker.auth.token import TokenState
from worker.errors import PermanentAuthError, TransientAuthError


def manager_on(sandbox: Sandbox, ledger: SecretLedger, clock: FakeClock, **kw: Any) -> TokenManager:
    return TokenManager(
        sandbox.brands,
        requester=RecordingRequester(ledger),
        clock=clock,
        rng=random.Random(5),
        **kw,
    )


def test_first_call_acquires_and_the_second_is_cached(
    sandbox: Sandbox, ledger: SecretLedger, clock: FakeClock
) -> None:
    manager = manager_on(sandbox, ledger, clock)
    first = manager.get_valid_token("AZURA")
    clock.advance(3600)
    assert manager.get_valid_token("AZURA") == first
    assert sandbox.auth_calls() == 1
    # the token really works against the API
    client = ReiClient(sandbox.brands[0], manager)
    assert client.get_json("lookups/names")


def test_stale_returns_at_once_while_the_endpoint_is_slow_and_refreshes_once(
    sandbox: Sandbox, ledger: SecretLedger, clock: FakeClock
) -> None:
    manager = manager_on(sandbox, ledger, clock)
    old = manager.get_valid_token("AZURA")
    sandbox.admin("faults", {"token_latency_seconds": 2})
    clock.advance(DAY_SECONDS - 30 - 1800 + 1)
    slowest = 0.0
    for _ in range(20):
        started = time.perf_counter()
        assert manager.get_valid_token("AZURA") == old
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.05
    assert manager.wait_for_background(10)
    assert sandbox.auth_calls() == 2
    assert manager.get_valid_token("AZURA") != old
    assert manager.status()[0].state is TokenState.FRESH


def test_sixty_four_threads_on_an_expired_token_make_one_auth_call(
    sandbox: Sandbox, ledger: SecretLedger, clock: FakeClock
) -> None:
    manager = manager_on(sandbox, ledger, clock)
    manager.get_valid_token("AZURA")
    clock.advance(2 * DAY_SECONDS)
    sandbox.admin("faults", {"token_latency_seconds": 0.3})
    sandbox.admin("stats/reset", {})
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
    for thread in threads:
        thread.join(10)
    assert sandbox.auth_calls() == 1
    assert len(results) == 64
    assert len(set(results)) == 1


def test_a_revoked_token_is_answered_by_one_refresh_and_one_retry(
    sandbox: Sandbox, ledger: SecretLedger, clock: FakeClock
) -> None:
    manager = manager_on(sandbox, ledger, clock)
    client = ReiClient(sandbox.brands[0], manager)
    client.get_json("lookups/names")
    sandbox.admin("revoke", {"brand": "AZURA"})
    assert client.get_json("lookups/names")
    assert sandbox.auth_calls() == 2
    stats = sandbox.admin("stats")["requests"]
    assert stats["lookups/names"] == {"200": 2, "401": 1}


def test_sixteen_concurrent_401s_make_one_auth_call(
    sandbox: Sandbox, ledger: SecretLedger, clock: FakeClock
) -> None:
    manager = manager_on(sandbox, ledger, clock)
    client = ReiClient(sandbox.brands[0], manager)
    client.get_json("lookups/names")
    sandbox.admin("revoke", {"brand": "AZURA"})
    sandbox.admin("faults", {"token_latency_seconds": 0.3})
    start = threading.Barrier(16)
    errors: list[BaseException] = []

    def call() -> None:
        start.wait()
        try:
            client.get_json("lookups/names")
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert sandbox.auth_calls() == 2


def test_revoked_keys_open_the_circuit_and_cap_the_attempts(
    sandbox: Sandbox, ledger: SecretLedger, clock: FakeClock
) -> None:
    sandbox.admin("keys", {"brand": "AZURA", "revoked": True})
    manager = manager_on(sandbox, ledger, clock)
    refused = 0
    for _minute in range(2 * 60):
        try:
            manager.get_valid_token("AZURA")
        except PermanentAuthError:
            refused += 1
        clock.advance(60)
    assert refused == 120
    # at 0, 60, 180, 420, 900 s, then every 900 s (the cap): 11 attempts in two hours
    assert sandbox.auth_calls() == 11
    assert manager.status()[0].state is TokenState.FAILED
    assert REGISTRY.get_sample_value("rei_sync_token_circuit_open", {"brand": "AZURA"}) == 1
    # the other brand is unaffected
    assert manager.get_valid_token("BLUE_OCEAN")


@pytest.mark.parametrize("mode", ["5xx", "refuse"])
def test_an_outage_is_transient_and_a_valid_token_keeps_being_served(
    sandbox: Sandbox, ledger: SecretLedger, clock: FakeClock, mode: str
) -> None:
    manager = manager_on(sandbox, ledger, clock)
    token = manager.get_valid_token("AZURA")
    sandbox.admin("faults", {"token_outage": {"mode": mode, "seconds": 3600}})
    clock.advance(DAY_SECONDS - 30 - 1800 + 1)
    for _ in range(30):
        assert manager.get_valid_token("AZURA") == token
        manager.wait_for_background(5)
        clock.advance(10)
    # backoff with full jitter (base 1 s, doubling): a handful of attempts, not one per call
    assert 3 <= sandbox.auth_calls() <= 12
    status = manager.status()[0]
    assert status.state is TokenState.STALE
    assert status.last_error is not None
    with pytest.raises(TransientAuthError):
        manager.force_refresh("AZURA", rejected=token)


def test_clock_skew_is_measured_from_the_date_header(
    sandbox: Sandbox, ledger: SecretLedger, leak_guard: Any
) -> None:
    sandbox.admin("clock", {"offset_seconds": 300})
    manager = TokenManager(sandbox.brands, requester=RecordingRequester(ledger))
    manager.get_valid_token("AZURA")
    skew = REGISTRY.get_sample_value("rei_sync_token_clock_skew_seconds", {"brand": "AZURA"})
    assert skew is not None
    assert 298 <= skew <= 301
    assert "token.clock_skew" in leak_guard.getvalue()


def test_wrong_requests_are_permanent_errors(sandbox: Sandbox) -> None:
    brand = sandbox.brands[0]
    session = requests.Session()
    wrong_path = brand.model_copy(update={"api_url": sandbox.server.root_url + "/reiapi"})
    with pytest.raises(PermanentAuthError):
        request_token(wrong_path, session, (2, 5))
    with pytest.raises(TransientAuthError, match="ConnectionError"):
        request_token(
            brand.model_copy(update={"api_url": "http://127.0.0.1:9/api/v1"}), session, (2, 5)
        )
    response = request_token(brand, session, (2, 5))
    assert response.expires_in == DAY_SECONDS
    assert response.server_date is not None
