"""Salvaging a page that cannot be decoded as a whole, record by record.

orjson refuses a whole page for one record with a lone surrogate escape (`"\\ud800"`)
or nesting past its limit, and a retry gets the same page: without salvage, one
hostile record fails every run. `salvage_page` finds the page's list of records by a
flat scan (strings skipped by one regular expression; no recursion, so any nesting
depth costs nothing), decodes each record alone — orjson first, then the standard
library's tolerant decoder (which keeps lone surrogates for the normaliser to reject
with a reason) — and stands an `Undecodable` in for each record neither can read. A
page whose structure cannot be found (truncated, not a list) is not salvaged: it
stays a decode error, retried like any other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.DOTALL)
ID_FIELDS = re.compile(rb'"(?:listingId|associateID)"\s*:\s*"?([0-9]{1,20})\b', re.IGNORECASE)


@dataclass(frozen=True)
class Undecodable:
    """A record of a salvaged page that could not be decoded: the normaliser rejects it."""

    source_id: str | None
    reason: str
    length: int


def salvage_page(body: bytes) -> Any | None:
    """The page's body (`[...]` or `{"result": [...]}`) with each record decoded alone,
    or None when the list of records cannot be found whole."""
    spans = _record_spans(body)
    if spans is None:
        return None
    items, wrapped = spans
    records = [_decode(body[start:end]) for start, end in items]
    return {"result": records} if wrapped else records


def _record_spans(body: bytes) -> tuple[list[tuple[int, int]], bool] | None:
    """(start, end) of every element of the record list, and whether it was wrapped."""
    depth = 0
    key: bytes | None = None
    expect_key = False
    target: int | None = None
    wrapped = False
    start: int | None = None
    spans: list[tuple[int, int]] = []
    first = body.lstrip()[:1]
    if first not in (b"[", b"{"):
        return None
    for match in TOKEN.finditer(body):
        token = match.group()
        at = match.start()
        if token in (b"[", b"{"):
            if target is not None and depth == target and start is None:
                start = at
            depth += 1
            if (
                token == b"["
                and target is None
                and (
                    (first == b"[" and depth == 1)
                    or (first == b"{" and depth == 2 and key == b'"result"')
                )
            ):
                target, wrapped = depth, first == b"{"
                start = None
            expect_key = token == b"{"
        elif token in (b"]", b"}"):
            if target is not None and depth == target:
                if start is not None:
                    spans.append((start, _end(body, at)))
                return (spans, wrapped) if _closed(body, match.end(), first) else None
            depth -= 1
            expect_key = False
        elif token == b",":
            if target is not None and depth == target and start is not None:
                spans.append((start, _end(body, at)))
                start = None
            expect_key = depth == 1 and first == b"{"
        elif token == b":":
            expect_key = False
        else:  # a string
            if depth == 1 and first == b"{" and expect_key:
                key = token
            if target is not None and depth == target and start is None:
                start = at
    return None


def _end(body: bytes, at: int) -> int:
    return len(body[:at].rstrip())


def _closed(body: bytes, after: int, first: bytes) -> bool:
    """The list closed; for a wrapped page, so must its object be (not truncated)."""
    return first == b"[" or b"}" in body[after:]


def _decode(span: bytes) -> Any:
    span = span.strip()
    try:
        return orjson.loads(span)
    except orjson.JSONDecodeError:
        pass
    found = ID_FIELDS.search(span[:4096])
    source_id = found.group(1).decode() if found else None
    try:
        return json.loads(span.decode("utf-8", errors="strict"))
    except RecursionError:
        return Undecodable(source_id, "record: nested too deep to decode", len(span))
    except (ValueError, UnicodeDecodeError):
        return Undecodable(source_id, "record: not valid JSON", len(span))
