"""Content hashes of records, and fingerprints: the hashes a raw record's row would carry.

A row's `content_hash` is the sha256 of `NORMALISER_VERSION` and its public `raw` as
key-sorted JSON (its `private_hash` the same of the private part). A *fingerprint* is
a raw record's id and both hashes, worked out without validating it: the no-change
path compares it with the stored hashes and normalises only the records that differ.

The fingerprint is on every record of every scan, so it is written for the interpreter:
the public/private split of a record whose field names are all documented as spelled
is a set intersection and a `dict(zip(...))`, C loops with no bytecode per field; only
a record with unknown or differently cased names takes `classify`'s per-field walk.
Both give the same two dicts, so the same hashes (tests/sync/test_fast_path.py).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from worker.sync.coerce import MAX_BIGINT, flag
from worker.sync.fields import (
    ASSOCIATE_FIELDS,
    PLAIN_TYPES,
    PROPERTY_FIELDS,
    Vocabulary,
    classify,
    private_side,
    property_public_keys,
)

NORMALISER_VERSION = 2
"""Mixed into every content hash (`content_hash`). Bump it whenever a change in
`normalise.py` or `records.py` changes what a stored row holds for the same raw record:
a new or renamed column, a different parsing, rounding, bound or privacy rule. The
stored hashes then match no record, so the next run rewrites every row once (counted as
updated; the fast path and the merge skip only rows whose hash matches) and is back to
"unchanged" after that. A change that stores exactly the same rows needs no bump."""


HASH_CHUNK_BYTES = 2047
"""hashlib releases the GIL for inputs of 2048 bytes or more; a listing is ~2.4 kB. In a
busy process (page, image and database threads) getting the GIL back costs up to a
switch interval (5 ms) per hash: profiling showed content_hash at ~0.4 ms a record under
load, 2x pydantic. Fed in smaller chunks, the digest is the same and the GIL is kept."""


@functools.cache
def _hash_prefix(version: int) -> bytes:
    return f"rei-sync normaliser v{version}\n".encode()


def content_hash(document: dict[str, Any]) -> str:
    """sha256 of `NORMALISER_VERSION` and the key-sorted JSON, first 32 hex digits (the
    stored `content_hash`, and the fast path's fingerprint: both come from here)."""
    data = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(_hash_prefix(NORMALISER_VERSION))
    if len(data) <= HASH_CHUNK_BYTES:
        digest.update(data)
    else:
        view = memoryview(data)
        for offset in range(0, len(data), HASH_CHUNK_BYTES):
            digest.update(view[offset : offset + HASH_CHUNK_BYTES])
    return digest.hexdigest()[:32]


Fingerprint = tuple[int, str, str]
"""(source id, content hash, private hash) of a raw record, as its normalised `Row` has them."""


def _plain_id(value: Any) -> int | None:
    if type(value) is not int or not 1 <= value <= MAX_BIGINT:
        return None
    return value


PublicKeys = Callable[[dict[str, Any]], frozenset[str]]
"""The public field names of a record, from its known fields (its flags); ValueError
when a flag would not validate."""


def _split(
    raw: Any, vocab: Vocabulary, public_of: PublicKeys
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The public and private parts of a record, as `normalise_*` splits it. None when
    the record is not plainly well formed (a public field in two casings, a flag that
    would not validate; nesting, unless every field name is documented)."""
    if not isinstance(raw, dict):
        return None
    if raw.keys() <= vocab.documented:
        return _split_documented(raw, vocab, public_of)
    if not set(map(type, raw.values())) <= PLAIN_TYPES:
        return None
    fields = classify(raw, vocab)
    if fields.problem:
        return None
    try:
        public_keys = public_of(fields.known)
    except ValueError:
        return None
    public = {k: v for k, v in fields.known.items() if k in public_keys}
    return public, private_side(raw, fields.known, public_keys, fields.unknown)


def _split_documented(
    raw: dict[str, Any], vocab: Vocabulary, public_of: PublicKeys
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A record whose names are all documented as spelled: a copy of it without its few
    private fields, and those. No nesting check: a nested value is hashed like any
    other (orjson refuses one deeper than its limit: TypeError, no fingerprint), and a
    record normalising would reject was never stored, so its hashes match nothing."""
    try:
        public_keys = public_of(raw)
    except ValueError:
        return None
    hidden = [name for name in _hidden(vocab, public_keys) if name in raw]
    public = raw.copy()
    for name in hidden:
        del public[name]
    return public, {name: raw[name] for name in hidden}


@functools.cache
def _hidden(vocab: Vocabulary, public_keys: frozenset[str]) -> tuple[str, ...]:
    """The documented fields that are private when `public_keys` are the public ones."""
    return tuple(sorted(vocab.documented - public_keys))


def _fingerprint(
    raw: Any, vocab: Vocabulary, id_field: str, public_of: PublicKeys
) -> Fingerprint | None:
    split = _split(raw, vocab, public_of)
    if split is None:
        return None
    public, private = split
    source_id = _plain_id(public.get(id_field))
    if source_id is None:
        return None
    try:
        return source_id, content_hash(public), content_hash(private)
    except TypeError:
        return None


def _property_public(known: dict[str, Any]) -> frozenset[str]:
    return property_public_keys(
        flag(known.get("unparsedAddressPublicYN")), flag(known.get("listPricePrivateYN"))
    )


def _associate_public(known: dict[str, Any]) -> frozenset[str]:
    return ASSOCIATE_FIELDS.public


def property_fingerprint(raw: Any) -> Fingerprint | None:
    """The id and both hashes `normalise_property(raw)` would give, without validating.

    `None` when the record is not plainly well formed (no integer id, a flag that would
    not validate, nesting, a public field in two casings): normalise it to know.
    """
    return _fingerprint(raw, PROPERTY_FIELDS, "listingId", _property_public)


def associate_fingerprint(raw: Any) -> Fingerprint | None:
    """As `property_fingerprint`, for associates."""
    return _fingerprint(raw, ASSOCIATE_FIELDS, "associateID", _associate_public)
