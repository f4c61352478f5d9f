"""The data a seed generates is pinned: tests and benchmarks compare against it.

A change to the generators (or to the order of their random draws) changes these
digests; only change them on purpose, knowing that stored checksums change too.
"""

from __future__ import annotations

import hashlib

import orjson

from worker.sandbox import SandboxConfig
from worker.sandbox.state import SandboxState


def _digest(state: SandboxState) -> str:
    """sha256 of each brand's first 50 listings, their images, and its first 20 associates."""
    digest = hashlib.sha256()
    for brand in state.brands.values():
        slots = brand.listings_page(50, 0)
        for slot in slots:
            digest.update(brand.property_json(slot))
            digest.update(orjson.dumps(brand.images(slot)))
        for slot in brand.associates_page(20, 0):
            digest.update(orjson.dumps(brand.associate_record(slot)))
    return digest.hexdigest()


def test_seed_7_generates_the_pinned_records() -> None:
    state = SandboxState(SandboxConfig(seed=7, listings=80, associates=20))
    assert _digest(state) == PINNED_SEED_7
    state.advance_epoch(0.2, 0.1, 0.1)
    assert _digest(state) == PINNED_SEED_7_AFTER_AN_EPOCH


PINNED_SEED_7 = "d9c2a4fd075095fd06f3ed43a72529c76a2ffbb174b5f54a2a9faade3e410da3"
PINNED_SEED_7_AFTER_AN_EPOCH = "9a4c197447e19435e2d3626b1b89a1a9b4b90095a67ddc53ee1bd538a46a2ac8"
