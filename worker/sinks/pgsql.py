"""The SQL the Postgres sink sends, built from `TableSpec` constants (never from data).

Statements for `sa.text` take `:name` parameters; the ones run on a raw psycopg cursor
take `%(name)s`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from worker.db.schema import TableSpec

STAGE_TABLE = "rei_sync_stage"
SEEN_TABLE = "rei_sync_seen"

INSERT_REJECTS = sa.text(
    "INSERT INTO sync_rejects (run_id, brand, entity, source_id, reason, payload) "
    "VALUES (:run_id, :brand, :entity, :source_id, :reason, CAST(:payload AS jsonb))"
)


def stored_names(keys: Sequence[str], columns: Sequence[str]) -> list[str]:
    """The columns a batch is COPY'd and merged with, in COPY order."""
    return ["brand", *keys, *columns, "raw", "content_hash"]


def stored_columns(keys: Sequence[str], columns: Sequence[str]) -> str:
    """`stored_names` as a column list."""
    return ", ".join(stored_names(keys, columns))


def copy_sql(table: str, keys: Sequence[str], columns: Sequence[str]) -> str:
    """Binary COPY: the values' types are declared by `pgcopy.COLUMN_TYPES`."""
    return f"COPY {table} ({stored_columns(keys, columns)}) FROM STDIN (FORMAT BINARY)"


def stage_table(table: str) -> str:
    """The temp table a batch for `table` is COPY'd into (one per target, dropped at commit)."""
    return f"{STAGE_TABLE}_{table}"


def create_stage_sql(table: str, keys: Sequence[str], columns: Sequence[str]) -> str:
    """Create `table`'s stage if this transaction has none yet, and empty it."""
    stage = stage_table(table)
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS "
        f"SELECT {stored_columns(keys, columns)} FROM {table} WITH NO DATA; DELETE FROM {stage}"
    )


def merge_sql(
    table: str, keys: Sequence[str], columns: Sequence[str], *, tracks_delisting: bool
) -> str:
    """`INSERT … SELECT … ORDER BY key ON CONFLICT DO UPDATE … WHERE hash differs`, returning
    key + inserted.

    Rows are written (and so locked) in key order: two writers merging overlapping keys
    (the properties job and the image sweep, under separate leases) wait for each other
    instead of deadlocking.
    """
    column_list = stored_columns(keys, columns)
    updates = [f"{c} = EXCLUDED.{c}" for c in [*columns, "raw", "content_hash"]]
    updates.append("updated_at = now()")
    changed = f"{table}.content_hash IS DISTINCT FROM EXCLUDED.content_hash"
    if tracks_delisting:
        updates.append("delisted_at = NULL")
        changed += f" OR {table}.delisted_at IS NOT NULL"
    return (
        f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {stage_table(table)} "
        f"ORDER BY {', '.join(keys)} "
        f"ON CONFLICT (brand, {', '.join(keys)}) DO UPDATE SET {', '.join(updates)} "
        f"WHERE {changed} RETURNING {keys[-1]}, (xmax = 0) AS inserted"
    )


def delete_missing_children_sql(spec: TableSpec) -> str:
    """Delete a parent's children that the newest answer no longer lists."""
    assert spec.scope is not None
    return (
        f"DELETE FROM {spec.table} WHERE brand = %(brand)s AND {spec.scope} = ANY(%(scopes)s) "
        f"AND ({spec.scope}, {spec.key}) NOT IN "
        "(SELECT * FROM unnest(CAST(%(kept_scopes)s AS bigint[]), CAST(%(kept_keys)s AS bigint[])))"
    )


def active_ids_sql(spec: TableSpec) -> sa.TextClause:
    return sa.text(
        f"SELECT {spec.key} FROM {spec.table} WHERE brand = :brand AND delisted_at IS NULL"
    )


def delisting_candidates_sql(spec: TableSpec) -> str:
    """Active keys of `brand` not in the seen table, in key order (psycopg parameters)."""
    return (
        f"SELECT t.{spec.key} FROM {spec.table} t WHERE t.brand = %(brand)s "
        "AND t.delisted_at IS NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {SEEN_TABLE} s WHERE s.id = t.{spec.key}) ORDER BY t.{spec.key}"
    )


def mark_delisted_sql(spec: TableSpec) -> sa.TextClause:
    return sa.text(
        f"UPDATE {spec.table} SET delisted_at = now() WHERE brand = :brand "
        f"AND {spec.key} = ANY(:ids) AND delisted_at IS NULL"
    )


def stale_keys_sql(spec: TableSpec) -> sa.TextClause:
    return sa.text(
        f"SELECT {spec.key}, content_hash FROM {spec.table} WHERE brand = :brand "
        f"AND {spec.key} = ANY(:ids)"
        + (" AND delisted_at IS NULL" if spec.tracks_delisting else "")
    )


def stored_hashes_sql(spec: TableSpec) -> str:
    """Both hashes of the active rows among `ids` (psycopg parameters)."""
    key = spec.key
    private_hash, join = "NULL::text", ""
    if spec.private_table is not None:
        private_hash = "p.content_hash"
        join = f" LEFT JOIN {spec.private_table} p ON p.brand = t.brand AND p.{key} = t.{key}"
    active = " AND t.delisted_at IS NULL" if spec.tracks_delisting else ""
    return (
        f"SELECT t.{key}, t.content_hash, {private_hash} FROM {spec.table} t{join} "
        f"WHERE t.brand = %(brand)s AND t.{key} = ANY(%(ids)s){active}"
    )


def count_active_sql(spec: TableSpec) -> sa.TextClause:
    active = " AND delisted_at IS NULL" if spec.tracks_delisting else ""
    return sa.text(f"SELECT count(*) FROM {spec.table} WHERE brand = :brand{active}")


def delist_absent_sql(spec: TableSpec) -> sa.TextClause:
    scope = spec.scope or "NULL::bigint"
    parent = spec.parent_column or "NULL::bigint"
    return sa.text(
        f"UPDATE {spec.table} SET delisted_at = now() WHERE brand = :brand "
        f"AND delisted_at IS NULL AND (coalesce({scope}, -1), {spec.key}) NOT IN "
        "(SELECT * FROM unnest(CAST(:scopes AS bigint[]), CAST(:keys AS bigint[]))) "
        f"AND coalesce({parent}, -1) <> ALL(CAST(:keep AS bigint[]))"
    )


def stored_keys_sql(spec: TableSpec) -> str:
    """Keys stored (active or delisted) among a batch's: by key, or by parent for child tables."""
    if spec.scope is not None:
        return (
            f"SELECT {spec.scope}, {spec.key} FROM {spec.table} "
            f"WHERE brand = %(brand)s AND {spec.scope} = ANY(%(ids)s)"
        )
    return (
        f"SELECT NULL, {spec.key} FROM {spec.table} "
        f"WHERE brand = %(brand)s AND {spec.key} = ANY(%(ids)s)"
    )
