"""Values as both sinks store them: text Postgres accepts, JSON for jsonb, one row per key.

Shared by the Postgres sink and the Supabase REST sink, so that what one stores the other
would store byte for byte (and the change detection of either finds the other's rows
unchanged).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from worker.db.schema import Row


def unique_rows(rows: Sequence[Row]) -> list[Row]:
    """Last occurrence wins when a batch repeats a key (offset drift can do that)."""
    return list({(row.scope_id, row.source_id): row for row in rows}.values())


NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
"""A JSON `\\u0000` escape (a NUL), not the text backslash-u0000 (`\\\\u0000`), which is
stored as it came."""


def json_text(document: Any) -> str:
    """JSON text for a jsonb column; NUL and lone surrogates (which jsonb refuses) are replaced."""
    try:
        data = orjson.dumps(document, default=str)
    except TypeError:  # lone surrogates: keep a readable, storable rendering instead
        data = orjson.dumps(storable(repr(document)))
    text = data.decode()
    return NUL_ESCAPE.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def storable(text: str | None) -> str | None:
    """`text` as a Postgres text value: NUL becomes U+FFFD, a lone surrogate `?`."""
    if text is None:
        return None
    return text.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")
