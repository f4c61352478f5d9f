"""COPY methods for the COPY-only bound case, measured against each other in one run.

    PYTHONPATH=. .venv/bin/python -m bench.copy_methods [--listings 100000] [--repeat 3]
        [--batch 0] [--url postgresql://postgres@127.0.0.1:5432/bench_copy]

`--url` is a scratch database the script migrates and truncates (its `properties` and
`properties_private`). The listings are the sandbox's (normalised like a sync does, by the
sink's record builders: untimed). Each method COPYs them all into the emptied tables in
one transaction (in `--batch`-row COPYs when given, as the sink's 1,000-row batches do),
the methods interleaved in every repetition. Per method: the median wall seconds, rows/s,
the client's and the server backend's CPU seconds (read from /proc: on a shared machine CPU
time is steadier than wall time) and the ratio to the sink's method (`binary`, which is
`harness.copy_only`'s COPY).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from worker.db.engine import create_db_engine
from worker.db.migrate import upgrade_head
from worker.db.schema import PROPERTIES_TABLE, Row
from worker.sandbox.data import BrandData
from worker.sinks.pgcopy import copy_records, private_records, public_records
from worker.sinks.pgsql import stored_columns
from worker.sync.normalise import normalise_property

BRAND = "AZURA"
Copy = Callable[
    [psycopg.Cursor[Any], str, Sequence[str], Sequence[str], list[tuple[Any, ...]]], None
]


def text_write_row(
    cursor: psycopg.Cursor[Any],
    table: str,
    keys: Sequence[str],
    columns: Sequence[str],
    records: list[tuple[Any, ...]],
) -> None:
    """The sink's COPY before binary: text format, `write_row` per record."""
    with cursor.copy(f"COPY {table} ({stored_columns(keys, columns)}) FROM STDIN") as copy:
        for record in records:
            copy.write_row(record)


def _text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            if char in value:
                value = value.replace(char, escaped)
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def text_joined(
    cursor: psycopg.Cursor[Any],
    table: str,
    keys: Sequence[str],
    columns: Sequence[str],
    records: list[tuple[Any, ...]],
) -> None:
    """Text format, the whole COPY text built in Python and sent with one `write`."""
    text = "".join("\t".join([_text(value) for value in record]) + "\n" for record in records)
    with cursor.copy(f"COPY {table} ({stored_columns(keys, columns)}) FROM STDIN") as copy:
        copy.write(text)


METHODS: dict[str, Copy] = {
    "binary (sink)": copy_records,
    "text write_row": text_write_row,
    "text joined": text_joined,
}


def listings(count: int) -> list[Row]:
    brand = BrandData(
        BRAND, 0, 1, seed=7, listings=count, associates=100, images_per_listing=3, cache_records=0
    )
    rows = [normalise_property(brand.property_record(slot)) for slot in range(count)]
    return [row for row in rows if isinstance(row, Row)]


def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def measure(
    url: str, copy: Copy, public: list[tuple[Any, ...]], private: list[tuple[Any, ...]], batch: int
) -> tuple[float, float, float]:
    """(wall, client CPU, server CPU) seconds of one COPY of every record into empty tables."""
    spec = PROPERTIES_TABLE
    assert spec.private_table is not None
    step = batch or len(public)
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {spec.table}, {spec.private_table}")
        connection.commit()
        pid = connection.info.backend_pid
        server, client, started = _server_cpu(pid), time.process_time(), time.perf_counter()
        for offset in range(0, len(public), step):
            copy(cursor, spec.table, spec.key_columns, spec.columns, public[offset : offset + step])
            copy(
                cursor,
                spec.private_table,
                spec.key_columns,
                spec.private_columns,
                private[offset : offset + step],
            )
        connection.commit()
        return (
            time.perf_counter() - started,
            time.process_time() - client,
            _server_cpu(pid) - server,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=0, help="rows per COPY (0: all in one)")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/bench_copy")
    args = parser.parse_args(argv)
    upgrade_head(create_db_engine(args.url))
    rows = listings(args.listings)
    public = public_records(PROPERTIES_TABLE, BRAND, rows)
    private = private_records(PROPERTIES_TABLE, BRAND, rows)
    print(f"{len(rows):,} listings, batch {args.batch or 'all'}, {args.repeat} repetitions")
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in METHODS}
    for _ in range(args.repeat):
        for name, copy in METHODS.items():
            runs[name].append(measure(args.url, copy, public, private, args.batch))
    medians = {
        name: [statistics.median(m[i] for m in runs[name]) for i in range(3)] for name in runs
    }
    base = medians["binary (sink)"]
    print(f"{'method':<16} {'wall s':>7} {'rows/s':>8} {'client s':>8} {'server s':>8}  x binary")
    for name, (wall, client, server) in medians.items():
        print(
            f"{name:<16} {wall:7.2f} {len(rows) / wall:8.0f} {client:8.2f} {server:8.2f}  "
            f"wall {wall / base[0]:.2f} client {client / base[1]:.2f} server {server / base[2]:.2f}"
        )
    print("all runs (wall, client, server):")
    for name, measured in runs.items():
        print(f"  {name:<16} " + "  ".join(f"({w:.2f}, {c:.2f}, {s:.2f})" for w, c, s in measured))


if __name__ == "__main__":
    main()
