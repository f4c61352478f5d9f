"""Sync throughput for one brand with 100k listings: cold full sync, no-change resync, and the
rows the no-change run wrote (should be 0).

    .venv/bin/python bench/sync_100k.py [--listings 100000] [--take 100] [--parallelism 4]

Uses DATABASE_URL when set (a scratch database it may fill), else an embedded Postgres
in a temporary folder. The sandbox runs in this process on 127.0.0.1.

Measured 2026-11-28 on this 2-core box (embedded PG 18, take=100, parallelism=4):
cold full sync 276.8 s (100k listings + 300k images, i.e. 100k image requests),
no-change resync 57.4 s, rows written by the no-change run: 0.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from worker.auth.build import build_token_manager
from worker.config import load_settings
from worker.db.embedded import start_embedded_postgres
from worker.db.engine import create_db_engine
from worker.db.migrate import upgrade_head
from worker.log import configure_logging
from worker.runtime import build_client
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sinks.postgres import PostgresSink
from worker.sync.engine import RunResult, SyncOptions, sync_entity

BRAND = "AZURA"
ENTITY_TABLES = ("properties", "properties_private", "property_images")
CURRENT_XID = sa.text("SELECT pg_current_xact_id()::text::bigint")


def rows_written_since(engine: sa.Engine, xid: int) -> int:
    """Rows whose current version was written by a transaction at or after `xid`."""
    total = 0
    with engine.connect() as connection:
        for table in ENTITY_TABLES:
            total += connection.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE xmin::text::bigint >= :xid"),
                {"xid": xid},
            ).scalar_one()
    return int(total)


def timed(label: str, run: callable) -> RunResult:  # type: ignore[valid-type]
    started = time.perf_counter()
    result: RunResult = run()
    seconds = time.perf_counter() - started
    c = result.counts
    print(
        f"{label:<22} {seconds:8.1f} s  status={result.status} seen={c.seen} "
        f"inserted={c.inserted} updated={c.updated} unchanged={c.unchanged} "
        f"images={result.details.get('images', {})}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--take", type=int, default=100)
    parser.add_argument("--parallelism", type=int, default=4)
    args = parser.parse_args()
    configure_logging("WARNING", "console", ())
    url = os.environ.get("DATABASE_URL") or start_embedded_postgres(
        Path(tempfile.mkdtemp(prefix="rei-bench-"))
    )
    engine = create_db_engine(url)
    upgrade_head(engine)
    config = SandboxConfig(
        seed=1, listings=args.listings, associates=200, images_per_listing=3, brands=(BRAND,)
    )
    with SandboxServer(config, host="127.0.0.1", port=0).start() as sandbox:
        settings = load_settings(environ=sandbox.env(), env_file=None)
        with requests.Session() as session:
            adapter = requests.adapters.HTTPAdapter(pool_maxsize=args.parallelism * 2)
            session.mount("http://", adapter)
            client = build_client(
                settings,
                settings.brand(BRAND),
                build_token_manager(settings, session=session),
                session,
            )
            store = PostgresSink(engine)
            options = SyncOptions(take=args.take, parallelism=args.parallelism)
            print(f"{args.listings} listings, take={args.take}, parallelism={args.parallelism}")
            timed(
                "cold full sync", lambda: sync_entity(client, store, "properties", options=options)
            )
            xid = _xid(engine)
            timed(
                "no-change resync",
                lambda: sync_entity(client, store, "properties", options=options),
            )
            print(f"rows written by the no-change run: {rows_written_since(engine, xid)}")
    engine.dispose()


def _xid(engine: sa.Engine) -> int:
    with engine.begin() as connection:
        return int(connection.execute(CURRENT_XID).scalar_one())


if __name__ == "__main__":
    main()
