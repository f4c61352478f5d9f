"""Scenario 1: 10 % 5xx, 2 % connection resets, 429 bursts with Retry-After and read stalls;
the mirror ends byte-for-byte (by checksum) where a fault-free run ends."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import (
    Figures,
    Reference,
    SandboxFactory,
    WorldFactory,
    admin,
    auth_calls,
    run_figures,
)
from worker.sync.engine import Progress

BASE_FAULTS: dict[str, Any] = {
    "error_rate": 0.10,
    "error_statuses": [500, 502, 503, 504],
    "reset_rate": 0.02,
    "stall_rate": 0.01,
    "stall_seconds": 5,
    "rate_limit_rate": 0.0,
    "retry_after_seconds": 2,
    "fault_seed": 101,
}
BURST_RATE = 0.6
BURST_EVERY_PAGES = 4
BURST_SECONDS = 6.0
"""Every 4th page loaded starts a 429 burst (60 % of requests) that lasts 6 s of the
client's time: the waits it would have slept (recorded, not slept) move that time."""
READ_TIMEOUT = 0.5


def test_5xx_resets_429_bursts_and_stalls_converge_to_the_fault_free_checksum(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger)
    server = make_sandbox()
    world = make_world(server, read_timeout=READ_TIMEOUT, max_attempts=15)
    world.faults(**BASE_FAULTS)
    pages = [0]
    bursts = [0]
    burst_left: list[float] = [0.0]

    def start_bursts(_: Progress) -> None:
        pages[0] += 1
        if pages[0] % BURST_EVERY_PAGES == 0 and burst_left[0] <= 0:
            bursts[0] += 1
            burst_left[0] = BURST_SECONDS
            world.faults(rate_limit_rate=BURST_RATE)

    def end_bursts(waited: float) -> None:
        if burst_left[0] > 0:
            burst_left[0] -= waited
            if burst_left[0] <= 0:
                world.faults(rate_limit_rate=0.0)

    world.on_wait = end_bursts
    results = world.sync_all(on_progress=start_bursts)
    stats = admin(server, "GET", "stats")["requests"]
    statuses: Counter[str] = Counter()
    for by_status in stats.values():
        statuses.update({s: int(n) for s, n in by_status.items()})
    world.faults(rate_limit_rate=0.0)
    got = world.checksum()
    rate_limited_waits = [w for w in world.waits if w >= BASE_FAULTS["retry_after_seconds"]]
    figures.record(
        1,
        "5xx + resets + 429 bursts + read stalls",
        injected=(
            "10 % 5xx (500/502/503/504), 2 % TCP resets, 1 % read stalls (5 s vs a 0.5 s "
            f"read timeout), 429 bursts at {BURST_RATE:.0%} with Retry-After 2 s"
        ),
        times=sum(statuses.get(s, 0) for s in ("500", "502", "503", "504", "429", "reset")),
        **run_figures(results),
        retries=world.retries,
        token_requests=auth_calls(server),
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "5xx": sum(statuses.get(s, 0) for s in ("500", "502", "503", "504")),
            "429": statuses.get("429", 0),
            "resets": statuses.get("reset", 0),
            "429 bursts": bursts[0],
            "API requests": sum(statuses.values()),
            "waits honouring Retry-After": len(rate_limited_waits),
        },
    )
    assert [r.status for r in results] == ["succeeded"] * len(results), [r.error for r in results]
    assert statuses.get("429", 0) > 0
    assert statuses.get("reset", 0) > 0
    assert got == expected, f"differs in {got.differences(expected)}"
    # every 429 retry waited at least its Retry-After (recorded, not slept)
    assert len(rate_limited_waits) >= statuses.get("429", 0)
