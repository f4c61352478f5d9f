"""What every kind of run carries through its steps: the options, the run's counts and
details as they grow, and where it reads, writes and reports (`Job`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from worker.api.client import ReiClient
from worker.db.schema import Reject, Row, RunCounts, UpsertResult
from worker.sinks.base import Store
from worker.sync.concurrency import DEFAULT_IMAGE_CONCURRENCY_MAX
from worker.sync.delisting import DELIST_GUARD_FRACTION, DELIST_GUARD_MINIMUM
from worker.sync.images import ImageFetcher, image_limiter
from worker.sync.pipeline import (
    DEFAULT_BATCH_ITEMS,
    DEFAULT_IMAGE_PARALLELISM,
    DEFAULT_PARALLELISM,
    DEFAULT_PREFETCH_PAGES,
    DEFAULT_WINDOW,
    DEFAULT_WINDOW_BYTES,
)

DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class SyncOptions:
    take: int = DEFAULT_PAGE_SIZE
    parallelism: int = DEFAULT_PARALLELISM
    """Concurrent API requests for pages, images and delisting confirmations."""
    prefetch: int = DEFAULT_PREFETCH_PAGES
    """Pages fetched ahead of the loader at most (the bounded queue)."""
    image_parallelism: int = DEFAULT_IMAGE_PARALLELISM
    """Concurrent image requests a run starts with (one request per new/changed listing:
    the bulk of a cold sync); the limiter moves it between 1 and `image_concurrency_max`."""
    image_concurrency_max: int = DEFAULT_IMAGE_CONCURRENCY_MAX
    """Most image requests in flight (`REI_IMAGE_CONCURRENCY_MAX`; `sync/concurrency.py`)."""
    batch_items: int = DEFAULT_BATCH_ITEMS
    """Most records written in one batch (pages already fetched are merged into one)."""
    window: int = DEFAULT_WINDOW
    """Batches whose images may be in flight while later pages are read."""
    window_bytes: int = DEFAULT_WINDOW_BYTES
    """Most bytes of encoded rows those batches hold, besides the newest batch's
    (`REI_SYNC_WINDOW_MB`)."""
    full_images: bool = False
    """Listings: fetch the images of every listing seen, not only new/changed ones."""
    listing_images: bool = True
    """Listings: fetch images of new/changed listings (False leaves them to the image sweep)."""
    delist_guard_minimum: int = DELIST_GUARD_MINIMUM
    delist_guard_fraction: float = DELIST_GUARD_FRACTION


@dataclass
class RunState:
    """The mutable state of the run in progress."""

    run_id: int
    brand: str
    entity: str
    started: float
    mode: str
    counts: RunCounts = field(default_factory=RunCounts)
    checkpoint: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def add(
        self, result: UpsertResult, *, pages: int = 0, seen: int = 0, rejected: int = 0
    ) -> None:
        counts = self.counts.plus(result, pages=pages, seen=seen)
        self.counts = replace(counts, rejected=counts.rejected + rejected)

    def add_detail(self, group: str, **values: int) -> None:
        bucket = self.details.setdefault(group, {})
        for key, value in values.items():
            bucket[key] = bucket.get(key, 0) + value


@dataclass(frozen=True)
class Job:
    """One run in progress and everything its steps need.

    `start`: the offset (or, for the image sweep, the listing id) the run continues
    after; `may_delist` False for a resumed run. `progress(persist)` checkpoints the
    run in the store (unless `persist` is False) and tells the caller.
    """

    client: ReiClient
    store: Store
    run: RunState
    options: SyncOptions
    stop: threading.Event | None
    progress: Callable[[bool], None]
    start: int = 0
    may_delist: bool = True

    @property
    def brand(self) -> str:
        return self.run.brand

    def image_fetcher(self) -> ImageFetcher:
        """A fetcher for this run's images, its concurrency adaptive (close it when done)."""
        options = self.options
        limiter = image_limiter(
            self.brand, start=options.image_parallelism, cap=options.image_concurrency_max
        )
        return ImageFetcher(self.client, limiter)

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def record_rejects(self, entity: str, rejects: Sequence[Reject]) -> None:
        self.store.record_rejects(self.run.run_id, self.run.brand, entity, rejects)


def split(items: Iterable[Row | Reject]) -> tuple[list[Row], list[Reject]]:
    """Normalised items as (rows, rejects), each in the order given."""
    rows: list[Row] = []
    rejects: list[Reject] = []
    for item in items:
        if isinstance(item, Row):
            rows.append(item)
        else:
            rejects.append(item)
    return rows, rejects
