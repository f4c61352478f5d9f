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
from typing import TypeVar

from worker.api.client import Page, PagePath, ReiClient

DEFAULT_PARALLELISM = 4
DEFAULT_PREFETCH_PAGES = 8

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
    window = max(parallelism, prefetch)
    pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="rei-page")
    pending: deque[Future[Page]] = deque()
    next_skip = start
    try:
        while True:
            while len(pending) < window and not (stop is not None and stop.is_set()):
                pending.append(pool.submit(client.fetch_page, endpoint, take, next_skip))
                next_skip += take
            if not pending:
                return
            page = pending.popleft().result()
            yield page
            if page.is_last:
                return
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def map_bounded(
    work: Callable[[T], R], items: Iterable[T], *, parallelism: int = DEFAULT_PARALLELISM
) -> list[R]:
    """`[work(x) for x in items]` on at most `parallelism` threads, in input order.

    The first exception is raised once the running calls finish.
    """
    inputs: Sequence[T] = list(items)
    if len(inputs) <= 1 or parallelism <= 1:
        return [work(item) for item in inputs]
    with ThreadPoolExecutor(
        max_workers=min(parallelism, len(inputs)), thread_name_prefix="rei-fetch"
    ) as pool:
        return list(pool.map(work, inputs))
