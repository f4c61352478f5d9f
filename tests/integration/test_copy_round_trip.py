"""The sink's binary COPY stores exactly what its text COPY stored, awkward values included.

The same sink writes the same rows twice, under two brands: once as it is (binary COPY,
`sinks/pgcopy.py`) and once with `_copy` swapped for the text COPY it used before
(`write_row` in text format). Both the direct path (new keys) and the merge (stage
table) are compared, every stored column rendered as text by the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from worker.db import schema
from worker.db.schema import PROPERTIES_TABLE, Row, TableSpec
from worker.sinks import postgres
from worker.sinks.encoding import encoded
from worker.sinks.pgcopy import COLUMN_TYPES
from worker.sinks.pgsql import stored_columns, stored_names
from worker.sinks.postgres import PostgresSink

AWKWARD_TEXT = [
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    "\\.",
    "ends with \\",
    "unicode ñ 日本語 🏠 \u200b",
    "\ufffd",
    "",
    " ",
]
AWKWARD_JSON: dict[str, Any] = {
    "nul": "a\x00b",
    "escaped_nul_text": "\\u0000",
    "controls": "\t\n\r\b\f\x01",
    "backslashes": "\\\\N \\",
    "unicode": "ñ 日本語 🏠",
    "big": 2**63 - 1,
    "negative": -(2**63),
    "float": 0.1,
    "bools": [True, False, None],
    "nested": {"": {"deep": ["\\N", {"x": "\x00"}]}},
}


def text_copy(
    cursor: psycopg.Cursor[Any],
    table: str,
    keys: Sequence[str],
    columns: Sequence[str],
    records: Sequence[tuple[Any, ...]],
) -> None:
    """The COPY the sink used before binary: text format, one `write_row` per record."""
    with cursor.copy(f"COPY {table} ({stored_columns(keys, columns)}) FROM STDIN") as copy:
        for record in records:
            copy.write_row(record)


def public(listing_id: int, version: int) -> dict[str, Any]:
    text = AWKWARD_TEXT[(listing_id + version) % len(AWKWARD_TEXT)]
    values: dict[str, Any] = dict.fromkeys(PROPERTIES_TABLE.columns)
    if listing_id % 4 == 0:
        return values  # None everywhere
    maximum = Decimal("9999999999999999.99")
    values.update(
        listing_key=text,
        title_en=f"{text}|{version}",
        title_es=AWKWARD_TEXT[listing_id % len(AWKWARD_TEXT)],
        contract_type_id=2**31 - 1,
        status_id=-(2**31),
        probable_use_id=0,
        bedrooms=listing_id,
        list_price=[maximum, -maximum, Decimal("0"), Decimal("0.125"), Decimal("1E+3")][
            listing_id % 5
        ],
        lot_size=Decimal("0.00"),
        construction_size=Decimal("12.5"),
        country_id=2**63 - 1,
        state_id=-(2**63),
        location_id=0,
        latitude=Decimal("-89.1234567"),
        longitude=Decimal("179.99999995"),
        listing_date=[
            datetime(2017, 4, 2),
            datetime(1, 1, 1),
            datetime(9999, 12, 31, 23, 59, 59, 999999),
            datetime(2026, 12, 3, 9, 30, 1, 123456),
        ][listing_id % 4],
        office_code="\\",
    )
    return values


def private(listing_id: int, version: int) -> dict[str, Any] | None:
    if listing_id % 3 == 0:
        return None
    return {
        "owner_name": AWKWARD_TEXT[(listing_id * 7 + version) % len(AWKWARD_TEXT)],
        "owner_phones": "+1\t555",
        "owner_email": None,
        "private_remarks_en": "line one\nline two\r\n\\N",
        "private_remarks_es": "ñandú",
        "showing_instruction": None,
        "listing_side_comm": Decimal("99999999999999.9999"),
        "selling_side_comm": Decimal("0.00005"),
        "close_listing_comm_amount": Decimal("-0.01"),
        "close_selling_comm_amount": None,
    }


def rows(version: int) -> list[Row]:
    return [
        Row(
            source_id=listing_id,
            public=public(listing_id, version),
            raw={
                **AWKWARD_JSON,
                "id": listing_id,
                "version": version,
                **({"surrogate": "x\ud800y"} if listing_id % 5 == 0 else {}),
            },
            content_hash=f"hash-{listing_id}-{version}",
            private=private(listing_id, version),
            private_raw=None if listing_id % 3 == 0 else {"owner": "\x00\\N", "v": version},
            private_hash=f"private-{listing_id}-{version}",
        )
        for listing_id in range(1, 25)
    ]


def stored(engine: sa.Engine, table: str, columns: Sequence[str], brand: str) -> list[Any]:
    names = stored_names(PROPERTIES_TABLE.key_columns, columns)[1:]
    rendered = ", ".join(f"{name}::text" for name in names)
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(f"SELECT {rendered} FROM {table} WHERE brand = :brand ORDER BY listing_id"),
                {"brand": brand},
            )
        )


def snapshot(engine: sa.Engine, brand: str) -> tuple[list[Any], list[Any]]:
    spec = PROPERTIES_TABLE
    assert spec.private_table is not None
    return (
        stored(engine, spec.table, spec.columns, brand),
        stored(engine, spec.private_table, spec.private_columns, brand),
    )


def test_binary_copy_stores_what_text_copy_stored(
    db_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = PostgresSink(db_engine)
    for version in (0, 1):  # 0: every key new (direct COPY); 1: every key stored (stage + merge)
        binary = sink.upsert(PROPERTIES_TABLE, "BINARY", rows(version))
        with monkeypatch.context() as patch:
            patch.setattr(postgres, "_copy", text_copy)
            text = sink.upsert(PROPERTIES_TABLE, "TEXT", rows(version))
        assert (binary.inserted, binary.updated) == (text.inserted, text.updated)
        assert (binary.inserted, binary.updated) == ((24, 0) if version == 0 else (0, 24))
        assert snapshot(db_engine, "BINARY") == snapshot(db_engine, "TEXT")
    public_rows, _ = snapshot(db_engine, "BINARY")
    assert {r.country_id for r in public_rows} == {str(2**63 - 1), None}
    assert "9999999999999999.99" in {r.list_price for r in public_rows}
    assert "\\N" in {r.listing_key for r in public_rows}


def test_rows_waiting_encoded_store_what_their_dicts_stored(db_engine: sa.Engine) -> None:
    """A scan holds its rows with their raw documents encoded (`encoding.encoded`); the
    same rows stored from their dicts and from their encoded form are the same rows, NULs,
    lone surrogates and all, on the direct path and through the merge."""
    sink = PostgresSink(db_engine)
    for version in (0, 1):
        as_dicts = sink.upsert(PROPERTIES_TABLE, "DICTS", rows(version))
        as_encoded = sink.upsert(PROPERTIES_TABLE, "ENCODED", [encoded(r) for r in rows(version)])
        assert (as_dicts.inserted, as_dicts.updated) == (as_encoded.inserted, as_encoded.updated)
        assert snapshot(db_engine, "DICTS") == snapshot(db_engine, "ENCODED")
    stored_raw = [r.raw for r in snapshot(db_engine, "ENCODED")[0]]
    documents = [raw for raw in stored_raw if raw.startswith("{")]
    assert len(documents) == 20  # every fifth has a lone surrogate: stored as its repr
    assert all('"version": 1' in raw and '"nul": "a\ufffdb"' in raw for raw in documents)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("title_en", "nul\x00inside"),
        ("title_en", "lone\ud800surrogate"),
        ("bedrooms", 2**31),
        ("bedrooms", 2**35 + 4321),
        ("country_id", 2**63),
        ("country_id", -(2**63) - 1),
    ],
)
def test_unstorable_values_fail_the_batch_as_they_did(
    db_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, column: str, value: object
) -> None:
    """Normalisers reject such values before they get here; if one slipped through, binary
    COPY fails the batch as text COPY did (a NUL or an integer too large is refused by the
    client now, not by the server: both a non-retryable data error), and nothing of the
    batch is stored (psycopg's own int4 dumper would have stored 2**35 + 4321 as 4321)."""
    row = rows(0)[1]
    bad = [Row(row.source_id, {**row.public, column: value}, row.raw, row.content_hash)]
    sink = PostgresSink(db_engine)
    failures: list[tuple[str, str]] = []
    for brand, copy in (("BINARY", postgres._copy), ("TEXT", text_copy)):
        with monkeypatch.context() as patch:
            patch.setattr(postgres, "_copy", copy)
            try:
                sink.upsert(PROPERTIES_TABLE, brand, bad)
            except Exception as exc:
                cause = exc.__cause__ or exc.__context__
                family = "DataError" if isinstance(cause, psycopg.DataError) else repr(cause)
                failures.append((type(exc).__name__, family))
    assert len(failures) == 2
    assert failures[0] == failures[1]
    assert snapshot(db_engine, "BINARY") == snapshot(db_engine, "TEXT") == ([], [])


def specs() -> list[TableSpec]:
    return [value for value in vars(schema).values() if isinstance(value, TableSpec)]


CATALOGUE_NAMES = {"bigint": "int8", "integer": "int4", "timestamp without time zone": "timestamp"}


@pytest.mark.parametrize("spec", specs(), ids=lambda spec: spec.table)
def test_every_copied_column_is_declared_with_its_catalogue_type(
    db_engine: sa.Engine, spec: TableSpec
) -> None:
    tables = [(spec.table, spec.columns)]
    if spec.private_table is not None:
        tables.append((spec.private_table, spec.private_columns))
    with db_engine.connect() as connection:
        for table, columns in tables:
            catalogue = dict(
                connection.execute(
                    sa.text(
                        "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                        "WHERE attrelid = CAST(:table AS regclass) AND attnum > 0"
                    ),
                    {"table": table},
                ).all()
            )
            for name in stored_names(spec.key_columns, columns):
                found = catalogue[name]
                assert COLUMN_TYPES[name] == CATALOGUE_NAMES.get(found, found), (table, name)
