"""A list scan asks the store for the stored hashes of a batch once: every id once a run,
on a cold sync (nothing stored yet) as on a run that finds nothing changed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.sync.conftest import LISTINGS, Harness
from worker.db.schema import TableSpec


@pytest.mark.parametrize("runs", [1, 2])
def test_each_listing_id_is_asked_for_once_a_run(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, runs: int
) -> None:
    for _ in range(runs - 1):
        harness.sync("properties")
    asked: list[int] = []
    stored_hashes = harness.store.stored_hashes

    def counted(
        spec: TableSpec, brand: str, ids: Sequence[int]
    ) -> dict[int, tuple[str, str | None]]:
        asked.extend(ids)
        return stored_hashes(spec, brand, ids)

    monkeypatch.setattr(harness.store, "stored_hashes", counted)
    harness.sync("properties")
    assert len(asked) == len(set(asked)) == LISTINGS
