"""`python -m bench.soak`: one daemon for a while, sampling what could grow.

One `rei-sync run` daemon (in this process, so tracemalloc sees its heap) against
a sandbox in a child process with short tokens and short schedules, on a scratch
Postgres database (`--database-url`, default `BENCH_DATABASE_URL`; its `public`
schema is dropped and migrated). Every `--every` seconds one JSON line goes to
`--out`: RSS, threads, open files, database connections, runs so far. At the end
one summary line: the same figures at the end of the warm-up and at the end, and
the allocation sites (tracemalloc) that grew most in between.

    .venv/bin/python -m bench.soak --minutes 60 --out /tmp/soak.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import sqlalchemy as sa

from bench.sandbox_proc import Sandbox
from worker.auth import generate_key
from worker.config import BRAND_VAR, load_settings
from worker.db.engine import create_db_engine, libpq_url
from worker.db.migrate import upgrade_head
from worker.service import Daemon, run_daemon

BRANDS = ("AZURA", "BLUE_OCEAN")
TRACE_FRAMES = 8
COUNT_RUNS = sa.text("SELECT count(*), count(*) FILTER (WHERE status = 'failed') FROM sync_runs")
COUNT_CONNECTIONS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid()"
)


@dataclass(frozen=True)
class SoakConfig:
    minutes: float
    warmup_minutes: float
    every_seconds: float
    database_url: str
    out: Path
    listings: int = 200
    token_ttl: int = 60
    top: int = 15


def _settings_env(sandbox_env: dict[str, str], url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not BRAND_VAR.match(k)}
    return {
        **base,
        **sandbox_env,
        "DATABASE_URL": url,
        "TOKEN_ENCRYPTION_KEY": generate_key(),
        "TOKEN_REFRESH_BUFFER_MINUTES": "1",
        "HEALTH_BIND": "127.0.0.1",
        "HEALTH_PORT": "0",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "SYNC_JITTER_SECONDS": "0",
        "SYNC_PROPERTIES_SCHEDULE": "20s",
        "SYNC_ASSOCIATES_SCHEDULE": "10s",
        "SYNC_LOOKUPS_SCHEDULE": "30s",
        "SYNC_GEO_SCHEDULE": "30s",
        "SYNC_IMAGES_FULL_SCHEDULE": "60s",
        "RUN_AT_START": "1",
    }


def _sample(process: psutil.Process, engine: sa.Engine, url: str, started: float) -> dict[str, Any]:
    with engine.connect() as connection:
        runs, failed = connection.execute(COUNT_RUNS).one()
    with psycopg.connect(libpq_url(url)) as connection:
        row = connection.execute(COUNT_CONNECTIONS).fetchone()
    memory = process.memory_info()
    return {
        "t_s": round(time.monotonic() - started, 1),
        "rss_mb": round(memory.rss / 2**20, 2),
        "threads": process.num_threads(),
        "open_files": process.num_fds(),
        "db_connections": int(row[0]) if row else 0,
        "runs": int(runs),
        "failed_runs": int(failed),
        "traced_mb": round(tracemalloc.get_traced_memory()[0] / 2**20, 2),
    }


def _growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int) -> list[str]:
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "traceback")
    lines = []
    for stat in diff[:top]:
        frames = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback[:4])
        lines.append(f"{stat.size_diff / 1024:+.1f} kB ({stat.count_diff:+d} blocks) {frames}")
    return lines


def soak(config: SoakConfig) -> dict[str, Any]:
    tracemalloc.start(TRACE_FRAMES)
    engine = create_db_engine(config.database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    upgrade_head(engine)
    process = psutil.Process()
    stop = threading.Event()
    samples: list[dict[str, Any]] = []
    snapshots: dict[str, tracemalloc.Snapshot] = {}
    errors: list[Exception] = []
    out = config.out.open("a", encoding="utf-8")

    def write(line: dict[str, Any]) -> None:
        out.write(json.dumps(line) + "\n")
        out.flush()

    def sampler(_daemon: Daemon) -> None:
        started = time.monotonic()
        warmup_at = started + config.warmup_minutes * 60
        end_at = started + config.minutes * 60

        def loop() -> None:
            try:
                while not stop.wait(config.every_seconds):
                    warmed_up = "warm" not in snapshots and time.monotonic() >= warmup_at
                    if warmed_up:
                        # The snapshot stays in memory to the end (about 7 MB of RSS for
                        # this daemon's heap): taken before the sample, the soak's own
                        # bookkeeping is in the baseline, not in the daemon's growth.
                        snapshots["warm"] = tracemalloc.take_snapshot()
                    sample = _sample(process, engine, config.database_url, started)
                    samples.append(sample)
                    write(sample)
                    if warmed_up:
                        write({"event": "warmup_over", **sample})
                    if time.monotonic() >= end_at:
                        snapshots["end"] = tracemalloc.take_snapshot()
                        stop.set()
            except Exception as exc:
                errors.append(exc)
            finally:
                stop.set()  # a sampler that died must end the soak, not leave it running

        threading.Thread(target=loop, name="soak-sampler", daemon=True).start()

    with Sandbox(config.listings, brands=BRANDS, token_ttl=config.token_ttl) as sandbox:
        assert sandbox.env is not None
        settings = load_settings(
            environ=_settings_env(sandbox.env, config.database_url), env_file=None
        )
        run_daemon(settings, create_db_engine(config.database_url), stop=stop, on_ready=sampler)
    out.close()
    if errors:
        raise RuntimeError("the soak's sampler failed") from errors[0]
    return summarise(config, samples, snapshots)


def summarise(
    config: SoakConfig,
    samples: list[dict[str, Any]],
    snapshots: dict[str, tracemalloc.Snapshot],
) -> dict[str, Any]:
    warm = [s for s in samples if s["t_s"] >= config.warmup_minutes * 60] or samples
    summary: dict[str, Any] = {
        "event": "summary",
        "minutes": config.minutes,
        "warmup_minutes": config.warmup_minutes,
        "token_ttl_s": config.token_ttl,
        "brands": len(BRANDS),
        "cpu_count": os.cpu_count(),
        "first": samples[0] if samples else None,
        "after_warmup": warm[0] if warm else None,
        "last": samples[-1] if samples else None,
    }
    for key in ("rss_mb", "threads", "open_files", "db_connections", "traced_mb"):
        values = [s[key] for s in warm]
        if values:
            summary[f"{key}_after_warmup_min"] = min(values)
            summary[f"{key}_after_warmup_max"] = max(values)
    if warm:
        summary["rss_growth_after_warmup_mb"] = round(warm[-1]["rss_mb"] - warm[0]["rss_mb"], 2)
    if "warm" in snapshots and "end" in snapshots:
        summary["top_growth"] = _growth(snapshots["warm"], snapshots["end"], config.top)
    with config.out.open("a", encoding="utf-8") as out:
        out.write(json.dumps(summary) + "\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=60.0, help="total run time")
    parser.add_argument("--warmup-minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--listings", type=int, default=200, help="listings per sandbox brand")
    parser.add_argument("--token-ttl", type=int, default=60, help="sandbox token lifetime (s)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/soak.jsonl"))
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or BENCH_DATABASE_URL): a scratch database is needed")
    summary = soak(
        SoakConfig(
            minutes=args.minutes,
            warmup_minutes=args.warmup_minutes,
            every_seconds=args.every,
            database_url=args.database_url,
            out=args.out,
            listings=args.listings,
            token_ttl=args.token_ttl,
        )
    )
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
