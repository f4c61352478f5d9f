"""`NORMALISER_VERSION` is part of every content hash: after a bump, the next run rewrites
every stored row once (the fast path and the merge skip only matching hashes), the one
after it finds them unchanged again."""

from __future__ import annotations

import pytest

from tests.sync.conftest import ASSOCIATES, LISTINGS, Harness
from worker.sync import hashing


@pytest.mark.parametrize(
    ("entity", "key", "count"),
    [("properties", "listing_id", LISTINGS), ("associates", "associate_id", ASSOCIATES)],
)
def test_a_new_normaliser_version_rewrites_every_row_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, entity: str, key: str, count: int
) -> None:
    first = harness.sync(entity)
    assert first.counts.inserted == count
    assert harness.sync(entity).counts.unchanged == count
    hashes = dict(harness.query(f"SELECT {key}, content_hash FROM {entity}"))

    monkeypatch.setattr(hashing, "NORMALISER_VERSION", hashing.NORMALISER_VERSION + 1)
    bumped = harness.sync(entity)
    assert (bumped.counts.updated, bumped.counts.unchanged, bumped.counts.inserted) == (count, 0, 0)
    rewritten = dict(harness.query(f"SELECT {key}, content_hash FROM {entity}"))
    assert rewritten.keys() == hashes.keys()
    assert not {k for k in hashes if hashes[k] == rewritten[k]}

    again = harness.sync(entity)
    assert (again.counts.updated, again.counts.unchanged) == (0, count)
