"""`python -m bench.many_brands`: one round of 50 sandbox brands on one daemon and on three.

A sandbox (child process) with `--brands` brands × `--listings` listings; a scratch Postgres
database (`--database-url`, default `BENCH_DATABASE_URL`; its `public` schema is dropped and
migrated before each case). Each case starts `--replicas` `rei-sync run` processes with every
brand, only the properties job on (with the images of every new listing) and
`RUN_AT_START=1`, and waits until every brand has a succeeded properties run. Reported: the
round's wall time (first run started → last run finished, from `sync_runs`), the peak
threads of each daemon (/proc), the peak database connections of each (its TCP connections
to the server, via psutil) and in total (`pg_stat_activity`), and each replica's share of
the runs (its `rei_sync_runs_total`). Results go to `bench/results/many-brands.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
import requests
import sqlalchemy as sa

from bench.sandbox_proc import Sandbox
from worker.auth import generate_key
from worker.config import BRAND_VAR
from worker.db.engine import create_db_engine, libpq_url
from worker.db.migrate import upgrade_head

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "many-brands.json"
POLL_SECONDS = 0.5
ROUND = sa.text(
    "SELECT count(DISTINCT brand) FILTER (WHERE status = 'succeeded'), "
    "count(*) FILTER (WHERE status = 'failed'), "
    "extract(epoch FROM max(finished_at) - min(started_at)) "
    "FROM sync_runs WHERE entity = 'properties'"
)
CONNECTIONS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND application_name = 'rei-sync'"
)
RUNS_LINE = re.compile(r'^rei_sync_runs_total\{[^}]*mode="scheduled"[^}]*\} (\S+)$', re.M)


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    port: int
    peak_threads: int = 0
    peak_connections: int = 0
    runs: float = 0.0
    seen_ready: bool = False

    def sample(self, db_port: int) -> None:
        try:
            proc = psutil.Process(self.process.pid)
            self.peak_threads = max(self.peak_threads, proc.num_threads())
            connections = [
                c for c in proc.net_connections("tcp") if c.raddr and c.raddr.port == db_port
            ]
            self.peak_connections = max(self.peak_connections, len(connections))
        except psutil.Error:
            return

    def ready(self) -> bool:
        """The daemon has answered `/readyz` once: it has reached the database through
        its pool, so its connections are there to be counted (a replica still starting
        when the others finish the round would read 0)."""
        if not self.seen_ready:
            try:
                answer = requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=5)
                self.seen_ready = answer.status_code == 200
            except requests.RequestException:
                return False
        return self.seen_ready

    def scrape_runs(self) -> None:
        text = requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10).text
        self.runs = sum(float(v) for v in RUNS_LINE.findall(text))


@dataclass
class Case:
    replicas: int
    brands: int
    listings: int
    round_s: float = 0.0
    until_done_s: float = 0.0
    failed_runs: int = 0
    peak_connections_total: int = 0
    per_replica: list[dict[str, Any]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset(url: str) -> None:
    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    upgrade_head(engine)
    engine.dispose()


def daemon_env(sandbox_env: dict[str, str], url: str, key: str, port: int) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not BRAND_VAR.match(k)}
    return {
        **base,
        **sandbox_env,
        "DATABASE_URL": url,
        "TOKEN_ENCRYPTION_KEY": key,
        "HEALTH_BIND": "127.0.0.1",
        "HEALTH_PORT": str(port),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "RUN_AT_START": "1",
        "SYNC_JITTER_SECONDS": "0",
        "SYNC_PROPERTIES_SCHEDULE": "1d",
        "SYNC_ASSOCIATES_SCHEDULE": "off",
        "SYNC_LOOKUPS_SCHEDULE": "off",
        "SYNC_GEO_SCHEDULE": "off",
        "SYNC_IMAGES_FULL_SCHEDULE": "off",
    }


def run_case(
    sandbox_env: dict[str, str],
    url: str,
    replicas: int,
    brands: int,
    listings: int,
    log: Path,
    timeout: float | None = None,
) -> Case:
    """One round on `replicas` daemons; `timeout` (seconds) bounds the wait, None waits on."""
    reset(url)
    db_port = int(psycopg.conninfo.conninfo_to_dict(libpq_url(url)).get("port") or 5432)
    key = generate_key()
    engine = create_db_engine(url)
    case = Case(replicas, brands, listings)
    started = time.monotonic()
    daemons: list[Replica] = []
    with log.open("ab") as stderr:
        for _ in range(replicas):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "worker", "run"],
                env=daemon_env(sandbox_env, url, key, port),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            daemons.append(Replica(process, port))
    stop = threading.Event()

    def sampler() -> None:
        with psycopg.connect(libpq_url(url), autocommit=True) as connection:
            while not stop.is_set():
                for daemon in daemons:
                    daemon.sample(db_port)
                row = connection.execute(CONNECTIONS).fetchone()
                case.peak_connections_total = max(case.peak_connections_total, row[0] if row else 0)
                stop.wait(POLL_SECONDS)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    try:
        while True:
            with engine.connect() as connection:
                done, failed, span = connection.execute(ROUND).one()
            if done >= brands and all(d.ready() for d in daemons):
                break
            if any(d.process.poll() is not None for d in daemons):
                raise RuntimeError(f"a daemon exited; see {log}")
            if timeout is not None and time.monotonic() - started > timeout:
                raise RuntimeError(
                    f"{done} of {brands} brands done, {failed} failed runs after {timeout:g} s;"
                    f" see {log}"
                )
            time.sleep(1.0)
        case.until_done_s = round(time.monotonic() - started, 1)
        case.round_s = round(float(span), 1)
        case.failed_runs = int(failed)
        for daemon in daemons:
            daemon.sample(db_port)
            daemon.scrape_runs()
    finally:
        stop.set()
        thread.join(5)
        for daemon in daemons:
            daemon.process.send_signal(signal.SIGTERM)
        for daemon in daemons:
            try:
                daemon.process.wait(60)
            except subprocess.TimeoutExpired:
                daemon.process.kill()
        engine.dispose()
    total = sum(d.runs for d in daemons) or 1.0
    case.per_replica = [
        {
            "peak_threads": d.peak_threads,
            "peak_db_connections": d.peak_connections,
            "runs": int(d.runs),
            "share": round(d.runs / total, 3),
        }
        for d in daemons
    ]
    return case


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.many_brands", description=__doc__)
    parser.add_argument("--brands", type=int, default=50)
    parser.add_argument("--listings", type=int, default=1000, help="listings per brand")
    parser.add_argument(
        "--replicas", type=int, nargs="+", default=[1, 3], help="one case per number of daemons"
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--log",
        type=Path,
        default=Path(tempfile.gettempdir()) / "rei-sync-many-brands.log",
        help="the daemons' stderr (appended)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds a case may take before the bench gives up (default: no limit)",
    )
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or BENCH_DATABASE_URL): a scratch database is needed")
    brands = tuple(f"BRAND{i:02d}" for i in range(1, args.brands + 1))
    cases = []
    with Sandbox(args.listings, brands=brands) as sandbox:
        assert sandbox.env is not None
        for replicas in args.replicas:
            case = run_case(
                sandbox.env,
                args.database_url,
                replicas,
                args.brands,
                args.listings,
                args.log,
                args.timeout,
            )
            print(json.dumps(case.__dict__), flush=True)
            cases.append(case.__dict__)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "cases": cases,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
