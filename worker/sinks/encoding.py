"""Values as both sinks store them: text Postgres accepts, JSON for jsonb, one row per key.

Shared by the Postgres sink and the Supabase REST sink, so that what one stores the other
would store byte for byte (and the change detection of either finds the other's rows
unchanged).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from worker.db.schema import EncodedJson, Row


def unique_rows(rows: Sequence[Row]) -> list[Row]:
    """Last occurrence wins when a batch repeats a key (offset drift can do that)."""
    return list({(row.scope_id, row.source_id): row for row in rows}.values())


NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
"""A JSON `\\u0000` escape (a NUL), not the text backslash-u0000 (`\\\\u0000`), which is
stored as it came."""


def json_bytes(document: Any) -> bytes:
    """JSON (UTF-8) for a jsonb column; NUL and lone surrogates (which jsonb refuses) are
    replaced. An `EncodedJson` is this already, and is returned as it is."""
    if isinstance(document, EncodedJson):
        return document
    try:
        data = orjson.dumps(document, default=str)
    except TypeError:  # lone surrogates: keep a readable, storable rendering instead
        data = orjson.dumps(storable(repr(document)))
    return NUL_ESCAPE.sub(rb"\1\\ufffd", data) if b"\\u0000" in data else data


def json_text(document: Any) -> str:
    """`json_bytes` as text."""
    return json_bytes(document).decode()


def encoded(row: Row) -> Row:
    """`row` with its raw documents as the JSON they are stored as (`EncodedJson`)."""
    private = row.private_raw
    return replace(
        row,
        raw=EncodedJson(json_bytes(row.raw)),
        private_raw=None if private is None else EncodedJson(json_bytes(private)),
    )


def storable(text: str | None) -> str | None:
    """`text` as a Postgres text value: NUL becomes U+FFFD, a lone surrogate `?`."""
    if text is None:
        return None
    return text.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")
