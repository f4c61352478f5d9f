"""Scenario 4: `rei-sync sync`/`backfill` processes SIGKILLed at 10 seeded random points; the
next run converges, no duplicate row, no false delisting, `backfill --resume` continues."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from tests.leak_guard import SecretLedger
from tests.reliability.checksum import duplicate_keys
from tests.reliability.conftest import (
    BASE,
    BRANDS,
    Figures,
    Reference,
    SandboxFactory,
    WorldFactory,
    admin,
    auth_calls,
    base_env,
)
from worker.config import BRAND_VAR
from worker.sandbox import SandboxServer

KILLS = 10
SEED = 4
POLL_SECONDS = 0.01
DEADLINE_SECONDS = 60
LEASE_TTL = "1"


def total_requests(server: SandboxServer) -> int:
    stats = admin(server, "GET", "stats")["requests"]
    return sum(int(n) for by_status in stats.values() for n in by_status.values())


class Cli:
    def __init__(self, server: SandboxServer, db_url: str, ledger: SecretLedger, cwd: Path):
        keep = {
            k: v
            for k, v in os.environ.items()
            if not BRAND_VAR.match(k) and k not in ("DATABASE_URL", "REI_BRANDS")
        }
        self.env = {
            **keep,
            **base_env(server, db_url),
            "LOG_FORMAT": "json",
            "LEASE_TTL_SECONDS": LEASE_TTL,
            "REI_SYNC_HOME": str(cwd / "home"),
        }
        self.ledger = ledger
        self.cwd = cwd

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "worker", *args],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self, child: subprocess.Popen[str], what: str) -> tuple[int, str]:
        out, err = child.communicate(timeout=120)
        self.ledger.output(f"the output of {what}", out + err)
        return child.returncode, out + err

    def run(self, *args: str) -> tuple[int, str]:
        return self.finish(self.start(*args), "rei-sync " + " ".join(args))


def kill_when(child: subprocess.Popen[str], ready: Callable[[], bool]) -> bool:
    """SIGKILL `child` as soon as `ready()`; False if it exited first."""
    pause = threading.Event()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            return False
        if ready():
            child.send_signal(signal.SIGKILL)
            child.wait(30)
            return True
        pause.wait(POLL_SECONDS)
    child.kill()
    raise AssertionError("the kill point was never reached")


def test_sigkill_at_ten_random_points_then_the_next_run_converges(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
    migrated_db_url: str,
    tmp_path: Path,
) -> None:
    expected = reference.of_config(ledger)
    server = make_sandbox(latency_ms=8)
    world = make_world(server)
    cli = Cli(server, migrated_db_url, ledger, tmp_path)
    rng = random.Random(SEED)
    points: list[str] = []
    killed = 0
    for _ in range(KILLS - 1):
        after = rng.randint(1, 250)
        start = total_requests(server)
        child = cli.start("sync", "--wait")
        if kill_when(child, lambda s=start, n=after: total_requests(server) - s >= n):
            killed += 1
            points.append(f"sync after {after} API requests")
        else:
            cli.finish(child, "a sync that ended before its kill point")
            points.append(f"sync after {after} API requests (ended first)")

    # the 10th: a properties backfill killed past a random checkpoint, then --resume
    brand = rng.choice(BRANDS)
    at = rng.choice((20, 40, 60, 80))
    world.faults(latency_ms=40)
    child = cli.start("backfill", "--brand", brand, "--entity", "properties", "--wait")

    def past_checkpoint() -> bool:
        with world.engine.connect() as c:
            checkpoint = c.execute(
                sa.text(
                    "SELECT checkpoint FROM sync_runs WHERE status = 'running' "
                    "AND mode = 'backfill' AND brand = :b"
                ),
                {"b": brand},
            ).scalar()
        return (checkpoint or 0) >= at

    assert kill_when(child, past_checkpoint), "the backfill ended before its kill point"
    killed += 1
    points.append(f"backfill {brand} past checkpoint {at}")
    world.faults(latency_ms=0)
    with world.engine.connect() as c:
        run_id, checkpoint = c.execute(
            sa.text(
                "SELECT id, checkpoint FROM sync_runs WHERE status = 'running' "
                "AND mode = 'backfill' AND brand = :b"
            ),
            {"b": brand},
        ).one()
    code, output = cli.run("backfill", "--brand", brand, "--resume", str(run_id), "--wait")
    assert code == 0, output[-2000:]
    with world.engine.connect() as c:
        resumed = (
            c.execute(sa.text("SELECT * FROM sync_runs WHERE resumed_from = :id"), {"id": run_id})
            .mappings()
            .one()
        )
        killed_status = c.execute(
            sa.text("SELECT status FROM sync_runs WHERE id = :id"), {"id": run_id}
        ).scalar_one()

    code, output = cli.run("sync", "--wait")
    assert code == 0, output[-2000:]
    got = world.checksum()
    duplicates = duplicate_keys(world.engine)
    delisted = world.scalar(
        "SELECT (SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL) + "
        "(SELECT count(*) FROM associates WHERE delisted_at IS NOT NULL)"
    )
    still_running = world.scalar("SELECT count(*) FROM sync_runs WHERE status = 'running'")
    runs = world.scalar("SELECT count(*) FROM sync_runs")
    listings = world.scalar("SELECT count(*) FROM properties WHERE brand = :b", b=brand)
    figures.record(
        4,
        "SIGKILL at 10 seeded random points",
        injected=f"SIGKILL of `rei-sync sync` / `backfill` subprocesses (seed {SEED})",
        times=killed,
        runs=runs,
        failed_runs=world.scalar("SELECT count(*) FROM sync_runs WHERE status = 'failed'"),
        retries=None,
        token_requests=auth_calls(server),
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "kill points": "; ".join(points),
            "duplicate rows": sum(duplicates.values()),
            "false delistings": delisted,
            "resumed from checkpoint": resumed["details"]["resumed_from_checkpoint"],
            "runs left running": still_running,
        },
    )
    assert killed >= KILLS - 2, points
    assert killed_status == "abandoned"
    assert resumed["status"] == "succeeded"
    assert resumed["mode"] == "backfill"
    assert resumed["details"]["resumed_from_checkpoint"] == checkpoint
    assert "delisting" not in resumed["details"]
    assert resumed["seen"] == BASE["listings"] - checkpoint == listings - checkpoint
    assert sum(duplicates.values()) == 0
    assert delisted == 0
    assert still_running == 0
    assert got == expected, f"differs in {got.differences(expected)}"
