"""Writers lock shared rows in one order (key order), so two overlapping merges cannot deadlock.

A threaded test would have to interleave two single statements at row level, which
cannot be made deterministic; the order of the merge's INSERT and of the COPY is
asserted instead.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from worker.db.schema import IMAGES_TABLE
from worker.sinks import postgres
from worker.sinks.postgres import PostgresSink, merge_sql
from worker.sync.records import normalise_image


def test_the_merge_inserts_in_key_order() -> None:
    sql = merge_sql("property_images", ["listing_id", "photo_id"], ["url"], tracks_delisting=False)
    select, _ = sql.split(" ON CONFLICT ", 1)
    assert select.endswith("ORDER BY listing_id, photo_id")


def image(listing_id: int, photo_id: int, url: str) -> Any:
    row = normalise_image(
        {"ListingId": listing_id, "PhotoId": photo_id, "ImageUrl": url, "Prioridad": 1, "Status": 1}
    )
    assert not hasattr(row, "reason"), row
    return row


def test_rows_reach_copy_in_key_order_whatever_order_they_come_in(
    db_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[list[tuple[Any, ...]]] = []
    real_copy = postgres._copy

    def spy(cursor: Any, table: str, keys: Any, columns: Any, records: Any) -> None:
        written.append([tuple(r[1:3]) for r in records])
        real_copy(cursor, table, keys, columns, records)

    monkeypatch.setattr(postgres, "_copy", spy)
    sink = PostgresSink(db_engine)
    rows = [image(2, 9, "http://x/a"), image(1, 5, "http://x/b"), image(2, 3, "http://x/c")]
    sink.upsert(IMAGES_TABLE, "AZURA", rows)
    sink.upsert(IMAGES_TABLE, "AZURA", [image(2, 3, "http://x/d"), image(1, 5, "http://x/e")])
    assert written
    for records in written:
        assert records == sorted(records)
