"""Bounded parallel page fetching, pipelined with whoever consumes the pages.

`fetch_pages` keeps up to `parallelism` requests in flight and at most
`prefetch` fetched-but-unconsumed pages in hand (the bounded queue), and yields
pages strictly in offset order. While the caller loads one page into the
database, the pool keeps fetching the next ones: API and database work at the
same time. The first short page ends the list; pages requested past it are
dropped.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from typing import TypeVar

from worker.api.client import Page, PagePath, ReiClient
from worker.errors import StopRequested

DEFAULT_PARALLELISM = 4
DEFAULT_PREFETCH_PAGES = 8
DEFAULT_BATCH_ITEMS = 1000
DEFAULT_IMAGE_PARALLELISM = 12
DEFAULT_WINDOW = 4

T = TypeVar("T")
R = TypeVar("R")


def fetch_pages(
    client: ReiClient,
    endpoint: PagePath,
    take: int,
    *,
    start: int = 0,
    parallelism: int = DEFAULT_PARALLELISM,
    prefetch: int = DEFAULT_PREFETCH_PAGES,
    stop: threading.Event | None = None,
) -> Generator[Page, None, None]:
    """Pages from offset `start` in order until a short page, or until `stop` is set."""
    batches = fetch_page_batches(
        client,
        endpoint,
        take,
        start=start,
        parallelism=parallelism,
        prefetch=prefetch,
        stop=stop,
        max_items=0,
    )
    with closing(batches):
        for batch in batches:
            yield from batch


def fetch_page_batches(
    client: ReiClient,
    endpoint: PagePath,
    take: int,
    *,
    start: int = 0,
    parallelism: int = DEFAULT_PARALLELISM,
    prefetch: int = DEFAULT_PREFETCH_PAGES,
    stop: threading.Event | None = None,
    max_items: int = DEFAULT_BATCH_ITEMS,
) -> Generator[list[Page], None, None]:
    """Like `fetch_pages`, in runs: the next page, plus every page after it that has
    already arrived, up to `max_items` records (always at least one page).

    A loader slower than the API thus gets bigger batches (fewer round trips and
    transactions per record) exactly when it is the bottleneck, and single pages
    while it keeps up, so its checkpoint still moves page by page then.
    """
    window = max(parallelism, prefetch)
    pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="rei-page")
    pending: deque[Future[Page]] = deque()
    next_skip = start

    def fill() -> None:
        nonlocal next_skip
        while len(pending) < window and not (stop is not None and stop.is_set()):
            pending.append(pool.submit(client.fetch_page, endpoint, take, next_skip))
            next_skip += take

    try:
        while True:
            fill()
            if not pending:
                return
            batch = [pending.popleft().result()]
            items = len(batch[0].items)
            while not batch[-1].is_last and items < max_items and pending and pending[0].done():
                batch.append(pending.popleft().result())
                items += len(batch[-1].items)
                fill()
            yield batch
            if batch[-1].is_last:
                return
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def map_bounded(
    work: Callable[[T], R],
    items: Iterable[T],
    *,
    parallelism: int = DEFAULT_PARALLELISM,
    stop: threading.Event | None = None,
) -> list[R]:
    """`[work(x) for x in items]` on at most `parallelism` threads, in input order.

    The first exception is raised once the running calls finish; calls not yet
    started are cancelled. With `stop`: once it is set, no further call starts and
    `StopRequested` is raised (the calls running finish first).
    """
    inputs: Sequence[T] = list(items)

    def guarded(item: T) -> R:
        if stop is not None and stop.is_set():
            raise StopRequested("stop requested")
        return work(item)

    if len(inputs) <= 1 or parallelism <= 1:
        return [guarded(item) for item in inputs]
    pool = ThreadPoolExecutor(
        max_workers=min(parallelism, len(inputs)), thread_name_prefix="rei-fetch"
    )
    futures = [pool.submit(guarded, item) for item in inputs]
    try:
        return [future.result() for future in futures]
    finally:
        for future in futures:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
