"""Scenario 6: three `rei-sync run` replicas for a bounded window with 12-second tokens: no job
key ever runs twice at once, and each brand makes one token request per refresh interval,
not one per replica."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from tests.daemon.conftest import DaemonFactory, daemon_env, start_daemon, wait_for
from tests.leak_guard import SecretLedger
from tests.reliability.checksum import checksum
from tests.reliability.conftest import (
    BRANDS,
    SERVICE_ROLE_KEY,
    Figures,
    Reference,
    SandboxFactory,
    admin,
    auth_calls,
)
from worker.auth.token import brand_jitter, plan_token
from worker.sandbox import SandboxServer

__all__ = ["daemon_env", "start_daemon"]

REPLICAS = 3
TTL = 12
SKEW = 30.0
BUFFER = 30 * 60.0
WINDOW_TOKENS = 3
"""The window ends once every brand has had this many tokens issued (two renewals)."""

OVERLAPS = sa.text(
    """
    SELECT count(*) FROM sync_runs a JOIN sync_runs b
      ON a.brand = b.brand AND a.entity = b.entity AND a.id < b.id
     AND tstzrange(a.started_at, coalesce(a.finished_at, 'infinity'))
      && tstzrange(b.started_at, coalesce(b.finished_at, 'infinity'))
    """
)


def refresh_interval(brand: str) -> float:
    token = plan_token(
        "x",
        sent_at=0.0,
        expires_in=TTL,
        buffer_seconds=BUFFER,
        skew_seconds=SKEW,
        jitter=brand_jitter(brand),
    )
    return token.refresh_at


def test_three_replicas_never_overlap_and_share_one_token_per_brand_per_lifetime(
    make_sandbox: SandboxFactory,
    daemon_env: Callable[..., dict[str, str]],
    start_daemon: DaemonFactory,
    db_engine: sa.Engine,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
    tmp_path: Path,
) -> None:
    expected = reference.of_config(ledger)
    server: SandboxServer = make_sandbox(token_ttl=TTL)
    env = daemon_env(
        server,
        RUN_AT_START="1",
        SYNC_PROPERTIES_SCHEDULE="2s",
        SYNC_ASSOCIATES_SCHEDULE="2s",
        SYNC_LOOKUPS_SCHEDULE="3s",
        SYNC_GEO_SCHEDULE="3s",
        REI_PAGE_SIZE="20",
        SUPABASE_SERVICE_ROLE_KEY=SERVICE_ROLE_KEY,
    )
    ledger.add(env["TOKEN_ENCRYPTION_KEY"], SERVICE_ROLE_KEY)
    started = time.monotonic()
    daemons = [start_daemon(env) for _ in range(REPLICAS)]

    def successes() -> int:
        with db_engine.connect() as c:
            counts = list(
                c.execute(
                    sa.text(
                        "SELECT count(*) FROM sync_runs WHERE status LIKE 'succeeded%' "
                        "GROUP BY brand, entity"
                    )
                ).scalars()
            )
        return min(counts) if len(counts) == len(BRANDS) * 4 else 0

    def window_done() -> bool:
        issued = admin(server, "GET", "stats")["tokens_issued"]
        return successes() >= 3 and all(int(issued.get(b, 0)) >= WINDOW_TOKENS for b in BRANDS)

    wait_for(window_done, 90, "three successful runs of every job and two token renewals")
    for i, daemon in enumerate(daemons):
        ledger.output(f"replica {i}'s /metrics", daemon.get("/metrics").text)
    codes = [d.terminate() for d in daemons]
    window = time.monotonic() - started
    for i, daemon in enumerate(daemons):
        ledger.output(f"replica {i}'s log", "".join(daemon.raw))
    calls = auth_calls(server)
    with db_engine.connect() as c:
        overlaps = c.execute(OVERLAPS).scalar_one()
        runs = c.execute(sa.text("SELECT count(*) FROM sync_runs")).scalar_one()
        failed = c.execute(
            sa.text("SELECT count(*) FROM sync_runs WHERE status = 'failed'")
        ).scalar_one()
    skipped = sum(len(d.events("sync.skipped")) for d in daemons)
    allowed = {b: math.floor(window / refresh_interval(b)) + 2 for b in BRANDS}
    got = checksum(db_engine)
    figures.record(
        6,
        "three daemon replicas, 12 s tokens",
        injected=f"{REPLICAS} `rei-sync run` processes on one database, jobs every 2-3 s, "
        f"token lifetime {TTL} s",
        times=REPLICAS,
        runs=runs,
        failed_runs=failed,
        retries=None,
        token_requests=calls,
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "window seconds": round(window, 1),
            "overlapping runs of a job key": overlaps,
            "refresh interval s": round(refresh_interval(BRANDS[0]), 2),
            "allowed token requests per brand": allowed,
            "runs skipped (lease held elsewhere)": skipped,
        },
    )
    assert codes == [0] * REPLICAS
    assert overlaps == 0
    for brand in BRANDS:
        assert WINDOW_TOKENS <= calls[brand] <= allowed[brand], (brand, calls, allowed)
    assert got == expected, f"differs in {got.differences(expected)}"
