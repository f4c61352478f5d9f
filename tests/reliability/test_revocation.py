"""Scenarios 14, 15 and 16: tokens revoked every K requests and key rotations, with 12
parallel image requests; `Retry-After` as an HTTP-date. Each ends at the fault-free checksum."""

from __future__ import annotations

import dataclasses

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import (
    BRANDS,
    Figures,
    Reference,
    SandboxFactory,
    WorldFactory,
    auth_calls,
    run_figures,
)
from worker.api.client import MAX_TOKEN_REFRESHES_PER_REQUEST

IMAGE_THREADS = 12
REVOKE_AFTER_REQUESTS = 25
ROTATE_EVERY_REQUESTS = 40
RETRY_AFTER_SECONDS = 20


def denied(server_stats: dict[str, dict[str, int]]) -> int:
    return sum(int(n) for by in server_stats.values() for s, n in by.items() if s == "401")


def test_tokens_revoked_every_25_requests_with_12_image_threads_lose_nothing(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger)
    server = make_sandbox(token_max_requests=REVOKE_AFTER_REQUESTS)
    world = make_world(server)
    world.options = dataclasses.replace(world.options, image_parallelism=IMAGE_THREADS)
    results = world.sync_all()
    calls = auth_calls(server)
    spent = dict(server.state.tokens.spent)
    got = world.checksum()
    figures.record(
        14,
        f"tokens revoked after {REVOKE_AFTER_REQUESTS} requests, {IMAGE_THREADS} image threads",
        injected=f"token_max_requests={REVOKE_AFTER_REQUESTS} (sandbox), image_parallelism="
        f"{IMAGE_THREADS}, at most {MAX_TOKEN_REFRESHES_PER_REQUEST} refreshes per request",
        times=sum(spent.values()),
        **run_figures(results),
        retries=world.retries,
        token_requests=calls,
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "401 answers": denied(server.state.stats.snapshot()["requests"]),
            "revocations per brand": spent,
            "allowed per brand": {b: 1 + spent.get(b, 0) for b in BRANDS},
        },
    )
    assert [r.status for r in results] == ["succeeded"] * len(results), [r.error for r in results]
    for brand in BRANDS:
        assert spent.get(brand, 0) >= 5, spent  # the knob really bit, several times
        assert calls[brand] <= 1 + spent.get(brand, 0), (brand, calls, spent)
    assert got == expected, f"differs in {got.differences(expected)}"


def test_key_rotations_mid_scan_with_12_image_threads_lose_nothing(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger)
    server = make_sandbox(key_rotation_every_requests=ROTATE_EVERY_REQUESTS)
    world = make_world(server)
    world.options = dataclasses.replace(world.options, image_parallelism=IMAGE_THREADS)
    results = world.sync_all()
    calls = auth_calls(server)
    rotations = server.state.faults.key_rotations
    got = world.checksum()
    figures.record(
        15,
        f"signing key rotated every {ROTATE_EVERY_REQUESTS} API requests (all brands' tokens)",
        injected=f"key_rotation_every_requests={ROTATE_EVERY_REQUESTS} (sandbox), "
        f"image_parallelism={IMAGE_THREADS}",
        times=rotations,
        **run_figures(results),
        retries=world.retries,
        token_requests=calls,
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "401 answers": denied(server.state.stats.snapshot()["requests"]),
            "allowed per brand": 1 + rotations,
        },
    )
    assert [r.status for r in results] == ["succeeded"] * len(results), [r.error for r in results]
    assert rotations >= 10
    for brand in BRANDS:
        assert calls[brand] <= 1 + rotations, (brand, calls, rotations)
    assert got == expected, f"differs in {got.differences(expected)}"


def test_retry_after_as_an_http_date_is_honoured_on_429_and_503(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger)
    server = make_sandbox(
        rate_limit_rate=0.04,
        error_rate=0.03,
        error_statuses=(503,),
        retry_after_seconds=RETRY_AFTER_SECONDS,
        retry_after_format="http-date",
        retry_after_on_503=True,
        fault_seed=16,
    )
    world = make_world(server)
    results = world.sync_all()
    requests = server.state.stats.snapshot()["requests"]
    refused = sum(int(by.get(s, 0)) for by in requests.values() for s in ("429", "503"))
    got = world.checksum()
    figures.record(
        16,
        "Retry-After sent as an HTTP-date on 429 and 503",
        injected=f"4 % 429 + 3 % 503, Retry-After = now + {RETRY_AFTER_SECONDS} s as an "
        "HTTP-date (1 s resolution)",
        times=refused,
        **run_figures(results),
        retries=world.retries,
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "shortest wait (s)": round(min(world.waits), 3),
            "longest wait (s)": round(max(world.waits), 3),
        },
    )
    assert [r.status for r in results] == ["succeeded"] * len(results), [r.error for r in results]
    assert refused >= 10
    assert world.retries == refused
    # every wait honours the date: its distance from now, less its 1 s resolution and transit
    assert min(world.waits) >= RETRY_AFTER_SECONDS - 2.0, sorted(world.waits)[:5]
    assert max(world.waits) <= RETRY_AFTER_SECONDS + 1e-6
    assert got == expected, f"differs in {got.differences(expected)}"
