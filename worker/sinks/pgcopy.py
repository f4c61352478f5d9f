"""COPY of a batch's records into an entity table or its stage, in binary with declared types.

Binary COPY spares the server parsing every integer, numeric and timestamp from text
(`bench/copy_methods.py` measures it against text COPY, docs/BENCHMARKS.md has the
figures). What is stored is what text COPY stored: text goes as its UTF-8 bytes, numerics
as their exact decimal digits (the column's scale rounds them as it rounded text), and
jsonb as the JSON text `encoding.json_text` made, behind jsonb's format version byte, so
the server parses the same JSON (`tests/integration/test_copy_round_trip.py` compares the
two byte for byte).

Integers are packed by `CheckedInt4Dumper`/`CheckedInt8Dumper`: psycopg's own binary int4
dumper keeps the low 32 bits of a larger int without a word (2**35 + 4321 is stored as
4321), where text COPY failed with SQLSTATE 22003; these fail the same way.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Dumper
from psycopg.pq import Format

from worker.db.schema import Row, TableSpec
from worker.sinks.encoding import json_text
from worker.sinks.pgsql import copy_sql, stored_names

COLUMN_TYPES: Mapping[str, str] = {
    **dict.fromkeys(
        (
            "brand",
            "content_hash",
            "listing_key",
            "title_en",
            "title_es",
            "office_code",
            "owner_name",
            "owner_phones",
            "owner_email",
            "private_remarks_en",
            "private_remarks_es",
            "showing_instruction",
            "remax_id",
            "first_name",
            "last_name",
            "mobile",
            "email",
            "image_url",
            "office_name",
            "birthday",
            "name",
            "name_en",
            "name_es",
            "flag_url",
        ),
        "text",
    ),
    **dict.fromkeys(
        (
            "listing_id",
            "associate_id",
            "photo_id",
            "lookup_id",
            "value_id",
            "country_id",
            "state_id",
            "location_id",
            "agent_id",
            "office_id",
        ),
        "int8",
    ),
    **dict.fromkeys(
        (
            "contract_type_id",
            "status_id",
            "probable_use_id",
            "property_type_id",
            "general_location_id",
            "list_price_currency_id",
            "bedrooms",
            "bathrooms_full",
            "bathrooms_half",
            "lot_size_units_id",
            "construction_size_units_id",
            "priority",
            "status",
        ),
        "int4",
    ),
    **dict.fromkeys(
        (
            "list_price",
            "lot_size",
            "construction_size",
            "latitude",
            "longitude",
            "listing_side_comm",
            "selling_side_comm",
            "close_listing_comm_amount",
            "close_selling_comm_amount",
        ),
        "numeric",
    ),
    "listing_date": "timestamp",
    "raw": "jsonb",
}
"""The Postgres type of every column a batch is COPY'd with, by name (the same name has the
same type in every entity table; `tests/integration/test_copy_round_trip.py` checks each
against the migrated catalogue)."""


def _key_values(spec: TableSpec, row: Row) -> tuple[Any, ...]:
    return (row.scope_id, row.source_id) if spec.scope else (row.source_id,)


def public_records(spec: TableSpec, brand: str, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    """The values `copy_records` writes into `spec.table` for `rows`, in COPY order."""
    return [
        (
            brand,
            *_key_values(spec, r),
            *(r.public[c] for c in spec.columns),
            json_text(r.raw),
            r.content_hash,
        )
        for r in rows
    ]


def private_records(spec: TableSpec, brand: str, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    """The values `copy_records` writes into `spec.private_table` for `rows`, in COPY order."""
    return [
        (
            brand,
            *_key_values(spec, r),
            *((r.private or {}).get(c) for c in spec.private_columns),
            json_text(r.private_raw or {}),
            r.private_hash,
        )
        for r in rows
    ]


class JsonbTextDumper(Dumper):
    """A jsonb value in binary: format version 1, then JSON text already made (a `str`).

    psycopg's own jsonb dumper would JSON-encode the `str` again (storing a JSON string);
    this one sends the text as it is, as text COPY did.
    """

    format = Format.BINARY
    oid = psycopg.adapters.types["jsonb"].oid

    def dump(self, obj: Any) -> Buffer | None:
        return b"\x01" + str(obj).encode()


class _CheckedIntDumper(Dumper):
    format = Format.BINARY
    _pack = struct.Struct("!i").pack
    type_name = "integer"

    def dump(self, obj: Any) -> Buffer | None:
        try:
            return self._pack(obj)
        except struct.error:
            raise psycopg.errors.NumericValueOutOfRange(f"{self.type_name} out of range") from None


class CheckedInt4Dumper(_CheckedIntDumper):
    """An int4 in binary, refused (as the server refuses the text) when it does not fit."""

    oid = psycopg.adapters.types["int4"].oid


class CheckedInt8Dumper(_CheckedIntDumper):
    """An int8 in binary, refused (as the server refuses the text) when it does not fit."""

    oid = psycopg.adapters.types["int8"].oid
    _pack = struct.Struct("!q").pack
    type_name = "bigint"


DUMPERS: tuple[type[Dumper], ...] = (JsonbTextDumper, CheckedInt4Dumper, CheckedInt8Dumper)


def copy_records(
    cursor: psycopg.Cursor[Any],
    table: str,
    keys: Sequence[str],
    columns: Sequence[str],
    records: Sequence[tuple[Any, ...]],
) -> None:
    """COPY `records` (values in `pgsql.stored_names` order) into `table` in one COPY.

    The `DUMPERS` are registered on `cursor` only (by oid, which is how a COPY with
    declared types looks dumpers up), so no other statement's adaptation changes.
    """
    for dumper in DUMPERS:
        cursor.adapters.register_dumper(None, dumper)
    with cursor.copy(copy_sql(table, keys, columns)) as copy:
        copy.set_types([COLUMN_TYPES[name] for name in stored_names(keys, columns)])
        for record in records:
            copy.write_row(record)
