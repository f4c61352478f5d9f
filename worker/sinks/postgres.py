"""Postgres sink: COPY a batch into a temp table, then one merge that writes only changed rows.

Each batch is one transaction. The temp table is `ON COMMIT DROP`, so nothing
outlives the transaction and the sink works through a transaction pooler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa

from worker.errors import SinkError
from worker.sinks.base import RunCounts, TableSpec, UpsertResult
from worker.sync.normalise import Reject, Row

STAGE_TABLE = "rei_sync_stage"


def merge_sql(table: str, key: str, columns: Sequence[str], *, tracks_delisting: bool) -> str:
    """`INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE hash differs`, returning inserted flags."""
    all_columns = ["brand", key, *columns, "raw", "content_hash"]
    column_list = ", ".join(all_columns)
    updates = [f"{c} = EXCLUDED.{c}" for c in [*columns, "raw", "content_hash"]]
    updates.append("updated_at = now()")
    changed = f"{table}.content_hash IS DISTINCT FROM EXCLUDED.content_hash"
    if tracks_delisting:
        updates.append("delisted_at = NULL")
        changed += f" OR {table}.delisted_at IS NOT NULL"
    return (
        f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {STAGE_TABLE} "
        f"ON CONFLICT (brand, {key}) DO UPDATE SET {', '.join(updates)} "
        f"WHERE {changed} RETURNING (xmax = 0) AS inserted"
    )


class PostgresSink:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def upsert(self, spec: TableSpec, brand: str, rows: Sequence[Row]) -> UpsertResult:
        unique = list({row.source_id: row for row in rows}.values())
        if not unique:
            return UpsertResult()
        try:
            with self._engine.begin() as connection:
                cursor = _cursor(connection)
                inserted, written = self._merge(
                    cursor,
                    spec.table,
                    spec.key,
                    spec.columns,
                    [
                        (
                            brand,
                            r.source_id,
                            *(r.public[c] for c in spec.columns),
                            _json(r.raw),
                            r.content_hash,
                        )
                        for r in unique
                    ],
                    tracks_delisting=True,
                )
                if spec.private_table is not None:
                    self._merge(
                        cursor,
                        spec.private_table,
                        spec.key,
                        spec.private_columns,
                        [
                            (
                                brand,
                                r.source_id,
                                *((r.private or {}).get(c) for c in spec.private_columns),
                                _json(r.private_raw or {}),
                                r.private_hash,
                            )
                            for r in unique
                        ],
                        tracks_delisting=False,
                    )
        except psycopg.Error as exc:
            raise SinkError(f"upsert into {spec.table} failed: {exc}") from exc
        return UpsertResult(inserted, written - inserted, len(unique) - written)

    @staticmethod
    def _merge(
        cursor: psycopg.Cursor[Any],
        table: str,
        key: str,
        columns: Sequence[str],
        records: list[tuple[Any, ...]],
        *,
        tracks_delisting: bool,
    ) -> tuple[int, int]:
        all_columns = ", ".join(["brand", key, *columns, "raw", "content_hash"])
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE_TABLE}")
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE_TABLE} ON COMMIT DROP AS "
            f"SELECT {all_columns} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {STAGE_TABLE} ({all_columns}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(record)
        cursor.execute(merge_sql(table, key, columns, tracks_delisting=tracks_delisting))
        flags = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"DROP TABLE {STAGE_TABLE}")
        return sum(flags), len(flags)

    def record_rejects(
        self, run_id: int, brand: str, entity: str, rejects: Sequence[Reject]
    ) -> None:
        if not rejects:
            return
        with self._engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO sync_rejects (run_id, brand, entity, source_id, reason, payload) "
                    "VALUES (:run_id, :brand, :entity, :source_id, :reason, "
                    "CAST(:payload AS jsonb))"
                ),
                [
                    {
                        "run_id": run_id,
                        "brand": brand,
                        "entity": entity,
                        "source_id": _storable(r.source_id),
                        "reason": _storable(r.reason),
                        "payload": _json(r.payload),
                    }
                    for r in rejects
                ],
            )

    def start_run(self, brand: str, entity: str, mode: str) -> int:
        with self._engine.begin() as connection:
            run_id = connection.execute(
                sa.text(
                    "INSERT INTO sync_runs (brand, entity, mode, status) "
                    "VALUES (:brand, :entity, :mode, 'running') RETURNING id"
                ),
                {"brand": brand, "entity": entity, "mode": mode},
            ).scalar_one()
        return int(run_id)

    def finish_run(
        self, run_id: int, status: str, counts: RunCounts, error: str | None = None
    ) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE sync_runs SET status = :status, finished_at = now(), pages = :pages, "
                    "seen = :seen, inserted = :inserted, updated = :updated, "
                    "unchanged = :unchanged, rejected = :rejected, delisted = :delisted, "
                    "error = :error WHERE id = :id"
                ),
                {"id": run_id, "status": status, "error": error, **counts.__dict__},
            )


def _cursor(connection: sa.Connection) -> psycopg.Cursor[Any]:
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver.cursor()


def _json(document: Any) -> str:
    """JSON text for a jsonb column; NUL and lone surrogates (which jsonb refuses) are replaced."""
    try:
        data = orjson.dumps(document, default=str)
    except TypeError:  # lone surrogates: keep a readable, storable rendering instead
        data = orjson.dumps(_storable(repr(document)))
    return data.decode().replace("\\u0000", "\\ufffd")


def _storable(text: str | None) -> str | None:
    if text is None:
        return None
    return text.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")
