"""Scenarios 2 and 3: tokens revoked mid-scan, and the token endpoint down."""

from __future__ import annotations

import threading

import requests

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import (
    BRANDS,
    Figures,
    Reference,
    SandboxFactory,
    WorldFactory,
    admin,
    auth_calls,
    run_figures,
)
from worker.auth import TokenManager, TokenState
from worker.config import Settings
from worker.sandbox import SandboxServer
from worker.sync.engine import Progress

REVOKE_EVERY_PAGES = 3


def test_tokens_revoked_mid_scan_cost_at_most_one_request_per_revocation_per_brand(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger)
    server = make_sandbox()
    world = make_world(server)
    pages = [0]
    revocations = [0]
    revoked_tokens = [0]

    def revoke_sometimes(_: Progress) -> None:
        pages[0] += 1
        if pages[0] % REVOKE_EVERY_PAGES == 0:
            revocations[0] += 1
            revoked_tokens[0] += admin(server, "POST", "revoke", {})["revoked"]

    results = world.sync_all(on_progress=revoke_sometimes)
    calls = auth_calls(server)
    denied = sum(
        int(n)
        for by_status in admin(server, "GET", "stats")["requests"].values()
        for s, n in by_status.items()
        if s == "401"
    )
    got = world.checksum()
    figures.record(
        2,
        "all tokens revoked mid-scan",
        injected=f"POST /_sandbox/revoke (every brand) after every {REVOKE_EVERY_PAGES}rd page",
        times=revocations[0],
        **run_figures(results),
        retries=world.retries,
        token_requests=calls,
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "401 answers": denied,
            "tokens revoked": revoked_tokens[0],
            "allowed per brand": 1 + revocations[0],
        },
    )
    assert [r.status for r in results] == ["succeeded"] * len(results), [r.error for r in results]
    assert revocations[0] >= 5
    assert denied > 0
    for brand in BRANDS:
        assert calls[brand] <= 1 + revocations[0], (brand, calls, revocations[0])
    assert got == expected, f"differs in {got.differences(expected)}"


class SharedClock:
    """The worker's clock and the sandbox's, moved together (no real time passes)."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        import time

        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds
        admin(self.server, "POST", "clock", {"advance_seconds": seconds})


TTL = 3600


def test_token_endpoint_down_serves_the_cached_token_then_fails_cleanly_and_recovers(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger)
    server = make_sandbox(token_ttl=TTL)
    clock = SharedClock(server)

    def tokens(settings: Settings, session: requests.Session) -> TokenManager:
        return TokenManager(
            settings.brands,
            session=session,
            clock=clock,
            buffer_seconds=settings.token_refresh_buffer_minutes * 60.0,
            timeout=(2.0, 5.0),
        )

    world = make_world(server, tokens=tokens)
    warm = world.sync_all()
    assert {r.status for r in warm} == {"succeeded"}
    before = auth_calls(server)

    # 1. endpoint down (503) while the cached token is still valid, past its refresh time
    world.faults(token_outage={"mode": "5xx", "seconds": 100_000})
    clock.advance(TTL * 0.55)
    assert {s.state for s in world.tokens.status()} == {TokenState.STALE}
    valid_phase = world.sync_all()
    world.tokens.wait_for_background(10)
    during_valid = auth_calls(server)

    # 2. still down (connections reset) and the token has expired: runs fail, cleanly
    world.faults(token_outage={"mode": "refuse", "seconds": 100_000})
    clock.advance(TTL * 0.5)
    expired_phase = world.sync_all()
    status = {s.brand: s for s in world.tokens.status()}
    failed_runs = world.scalar("SELECT count(*) FROM sync_runs WHERE status = 'failed'")
    running = world.scalar("SELECT count(*) FROM sync_runs WHERE status = 'running'")

    # 3. the endpoint returns: the next runs recover by themselves once the backoff is over
    world.faults(token_outage=None)
    retry_at = max(s.retry_at or 0.0 for s in status.values())
    clock.advance(max(0.0, retry_at - clock()) + 1.0)
    recovered = world.sync_all()
    after = auth_calls(server)
    got = world.checksum()
    figures.record(
        3,
        "token endpoint down (valid token, then past expiry)",
        injected="token endpoint 503 from refresh time on, then connection resets past expiry "
        "(sandbox clock + injected worker clock moved 0.55 and 0.5 of a 1 h lifetime)",
        times=2,
        **run_figures([*valid_phase, *expired_phase, *recovered]),
        retries=world.retries,
        token_requests=after,
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "failed runs while the token was valid": sum(r.status == "failed" for r in valid_phase),
            "failed runs past expiry": sum(r.status == "failed" for r in expired_phase),
            "states past expiry": ", ".join(f"{b} {s.state.value}" for b, s in status.items()),
            "failed runs after recovery": sum(r.status == "failed" for r in recovered),
            "token requests during the outage": sum(during_valid.values()) - sum(before.values()),
        },
    )
    assert [r.status for r in valid_phase] == ["succeeded"] * len(valid_phase)
    assert all(during_valid[b] > before[b] for b in BRANDS), "no refresh was attempted"
    assert [r.status for r in expired_phase] == ["failed"] * len(expired_phase)
    for result in expired_phase:
        assert result.error is not None
        assert result.brand in result.error, result.error
    for brand in BRANDS:
        assert status[brand].state in (TokenState.EXPIRED, TokenState.FAILED)
        assert status[brand].last_error
    assert failed_runs == len(expired_phase)
    assert running == 0
    assert [r.status for r in recovered] == ["succeeded"] * len(recovered)
    assert got == expected, f"differs in {got.differences(expected)}"
