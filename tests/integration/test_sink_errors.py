"""Database errors in the Postgres sink go through `dberrors`: classified (a lost connection
is retryable) and worded without the row's values (a COPY error's CONTEXT line quotes the
value it choked on, which may be private)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from tests.fixtures import sample_property
from worker.db.schema import PROPERTIES_TABLE, Row
from worker.errors import DatabaseUnavailableError, SinkError
from worker.sinks import postgres
from worker.sinks.postgres import PostgresSink
from worker.sync.normalise import normalise_property

SECRET_COMMISSION = Decimal("512345678901234.5678")
SECRET_ID = 2**35 + 4321


def good_row(listing_id: int) -> Row:
    raw = sample_property()
    row = normalise_property(raw | {"listingId": listing_id, "ownerName": "Secret Owner"})
    assert isinstance(row, Row)
    return row


def with_private(row: Row, **values: Any) -> Row:
    """`row` with private values the normaliser would reject (as a normaliser bug would let by)."""
    return dataclasses.replace(row, private={**(row.private or {}), **values}, private_hash="x")


def with_public(row: Row, **values: Any) -> Row:
    return dataclasses.replace(row, public={**row.public, **values}, content_hash="x")


def assert_no_row_value(message: str, *secrets: object) -> None:
    for secret in secrets:
        assert str(secret) not in message
        assert str(secret).split(".")[0] not in message
    assert "CONTEXT" not in message
    assert "DETAIL" not in message
    assert "Secret Owner" not in message


@pytest.mark.parametrize("stored_first", [False, True], ids=["direct-copy", "merge"])
@pytest.mark.parametrize(
    ("spoil", "secret", "sqlstate"),
    [
        (
            lambda r: with_private(r, listing_side_comm=SECRET_COMMISSION),
            SECRET_COMMISSION,
            "22003",
        ),
        (lambda r: with_public(r, list_price_currency_id=SECRET_ID), SECRET_ID, "22003"),
    ],
    ids=["numeric-overflow", "integer-out-of-range"],
)
def test_a_copy_failure_names_the_error_never_the_rows_values(
    db_engine: sa.Engine, stored_first: bool, spoil: Any, secret: object, sqlstate: str
) -> None:
    sink = PostgresSink(db_engine)
    if stored_first:
        assert sink.upsert(PROPERTIES_TABLE, "AZURA", [good_row(7)]).inserted == 1
    with pytest.raises(SinkError) as caught:
        sink.upsert(PROPERTIES_TABLE, "AZURA", [good_row(8), spoil(good_row(7))])
    message = str(caught.value)
    assert_no_row_value(message, secret)
    assert f"SQLSTATE {sqlstate}" in message
    assert "PostgresSink.upsert failed" in message
    assert not caught.value.retryable


def test_a_connection_lost_mid_upsert_is_a_retryable_database_unavailable_error(
    db_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = PostgresSink(db_engine)
    real_cursor = postgres._cursor

    def dying_cursor(connection: sa.Connection) -> psycopg.Cursor[Any]:
        cursor = real_cursor(connection)
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return cursor

    monkeypatch.setattr(postgres, "_cursor", dying_cursor)
    with pytest.raises(DatabaseUnavailableError) as caught:
        sink.upsert(PROPERTIES_TABLE, "AZURA", [good_row(9)])
    assert caught.value.retryable
    with pytest.raises(DatabaseUnavailableError):
        sink.stored_hashes(PROPERTIES_TABLE, "AZURA", [9])
    monkeypatch.undo()
    assert sink.upsert(PROPERTIES_TABLE, "AZURA", [good_row(9)]).inserted == 1
