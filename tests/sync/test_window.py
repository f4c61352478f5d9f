"""A listing scan's window of batches waiting for their images is bounded by the bytes of
its rows as well as by their number, and a run bounded so stores what an unbounded one
stores."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from typing import Any

import pytest

from tests.sync.conftest import TAKE, Harness
from tests.sync.truth import assert_matches_truth
from worker.db.schema import EncodedJson
from worker.sync import scan
from worker.sync.batches import PreparedBatch
from worker.sync.images import FetchedImages
from worker.sync.job import SyncOptions


def batch(held_bytes: int) -> PreparedBatch:
    waiting: Future[FetchedImages] = Future()
    return PreparedBatch([(1, 1)], [], [], 0, [waiting], held_bytes=held_bytes)


def window(*sizes: int) -> deque[PreparedBatch]:
    return deque(batch(size) for size in sizes)


def test_the_newest_batch_stays_whatever_its_size() -> None:
    assert not scan._over(window(10**9), SyncOptions(window_bytes=1))


def test_older_batches_go_once_the_bytes_held_pass_the_bound() -> None:
    options = SyncOptions(window=4, window_bytes=1000)
    assert not scan._over(window(400, 600), options)
    assert scan._over(window(400, 601), options)
    assert scan._over(window(1, 1, 1, 1, 1), options)  # and past `window` batches, as before
    assert not scan._over(window(1, 1, 1, 1), options)


@pytest.mark.parametrize(("window_bytes", "most_held"), [(1, 1), (2**30, 4)])
def test_a_cold_sync_holds_what_its_bound_lets_it_and_stores_every_listing_and_image(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, window_bytes: int, most_held: int
) -> None:
    """Every batch's images are taken as still in flight until it is written, so what the
    window holds is what the bounds let it: one batch under a 1-byte bound, `window` (4)
    under a large one; one page (20 listings) a batch."""
    held: list[int] = []
    rows_waiting: list[Any] = []
    over = scan._over

    def watched(waiting: deque[PreparedBatch], options: SyncOptions) -> bool:
        result = over(waiting, options)
        if not result:
            held.append(len(waiting))
        rows_waiting.extend(row.raw for b in waiting for row in b.rows)
        return result

    monkeypatch.setattr(scan, "_over", watched)
    monkeypatch.setattr(PreparedBatch, "ready", lambda self: False)
    result = harness.sync("properties", window_bytes=window_bytes, batch_items=TAKE)
    assert result.status == "succeeded"
    assert max(held) == most_held
    assert rows_waiting
    assert all(type(raw) is EncodedJson for raw in rows_waiting)
    assert_matches_truth(harness, "properties")
    assert_matches_truth(harness, "images")
