"""Bounded parallel page fetching, pipelined with whoever consumes the pages.

`fetch_pages` keeps up to `parallelism` requests in flight and at most
`prefetch` fetched-but-unconsumed pages in hand (the bounded queue), and yields
pages strictly in offset order. While the caller loads one page into the
database, the pool keeps fetching the next ones: API and database work at the
same time.

The scan trusts nothing it was not told (`_Planner`):

- Each page starts where the items of the page before actually ended. Only an
  empty page ends the list: after a short page one request (the end-of-list
  probe) asks at the offset its items ended, and pages requested in advance at
  offsets computed from the old size are dropped and planned again. (A probe
  answering only records the last pages already held ends it too: inserts
  ahead of the scan pushed them along, there is nothing beyond.)
- A short page followed by more items is the server's page cap: it is learnt
  (`PageSizes`, logged once per brand and endpoint) and used from then on.
- A page size refused before any page of that size was answered (400, or the
  API's invalid-request 404) is halved until one is answered (never below 1).
- A page that still fails after its retries raises once every page before it
  was handed out (`ScanReport.failed_at`). With `isolate` (the run before
  failed on a page), its range is fetched again in smaller parts down to a
  single record: every other record arrives, each offset that still fails is
  `ScanReport.unreachable` and the scan goes on.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from worker.api.client import Page, PagePath, ReiClient
from worker.api.paging import PAGE_SIZES, PageSizes, refuses_page_size, smaller_take
from worker.errors import ApiError, StopRequested

DEFAULT_PARALLELISM = 4
DEFAULT_PREFETCH_PAGES = 8
DEFAULT_BATCH_ITEMS = 1000
DEFAULT_IMAGE_PARALLELISM = 12
DEFAULT_WINDOW = 4
DEFAULT_WINDOW_BYTES = 4 * 2**20
"""A listing's encoded raw documents are ~2.4 kB (sandbox), so ~1,700 listings."""
ISOLATION_FAILURE_BUDGET = 20
"""Failed requests a scan may spend isolating bad offsets (each after its own retries)
before it gives up: one bad record in a page of 100 costs about 7, an outage every one."""

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Unreachable:
    """An offset whose single-record page still failed after its retries."""

    offset: int
    error: str


@dataclass
class ScanReport:
    """What a page scan learnt and what it could not do, filled in as it goes."""

    take: int
    """The page size in use (the configured one, or what the server showed it serves)."""
    complete: bool = False
    """An empty page answered: the list was read to its end."""
    failed_at: int | None = None
    """The offset of the page that failed after its retries (the scan raised)."""
    cap: int | None = None
    """A silent page cap learnt during this scan."""
    refused: list[int] = field(default_factory=list)
    """Page sizes the server refused during this scan."""
    isolated: list[int] = field(default_factory=list)
    """Offsets of failing pages fetched again in smaller parts."""
    unreachable: list[Unreachable] = field(default_factory=list)


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
    """Pages from offset `start` in order until an empty page, or until `stop` is set."""
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
    isolate: bool = False,
    report: ScanReport | None = None,
    sizes: PageSizes = PAGE_SIZES,
    on_page: Callable[[Page], Page] | None = None,
) -> Generator[list[Page], None, None]:
    """Like `fetch_pages`, in runs: the next page, plus every page after it that has
    already arrived, up to `max_items` records (always at least one page).

    A loader slower than the API thus gets bigger batches (fewer round trips and
    transactions per record) exactly when it is the bottleneck, and single pages
    while it keeps up, so its checkpoint still moves page by page then. `take` is
    the largest page size asked for; `report` (optional) is filled in as pages arrive.
    `on_page` (optional) runs on each page in the thread that fetched it, and the page
    it returns is the one handed out (`sync/prehash.py`).
    """
    pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="rei-page")
    planner = _Planner(
        client,
        endpoint,
        take,
        start=start,
        window=max(parallelism, prefetch),
        pool=pool,
        stop=stop,
        isolate=isolate,
        report=report or ScanReport(take),
        sizes=sizes,
        on_page=on_page,
    )
    try:
        while True:
            page = planner.next_page()
            if page is None:
                return
            batch = [page]
            items = len(page.items)
            while not page.is_last and items < max_items and planner.has_ready():
                following = planner.next_page()
                if following is None:
                    break
                page = following
                batch.append(page)
                items += len(page.items)
            yield batch
            if page.is_last:
                return
    finally:
        planner.replan()
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class _Request:
    skip: int
    take: int
    future: Future[Page]

    @property
    def end(self) -> int:
        return self.skip + self.take


class _Planner:
    """Which page to ask for next, from what the pages so far have shown (module docstring)."""

    def __init__(
        self,
        client: ReiClient,
        endpoint: PagePath,
        take: int,
        *,
        start: int,
        window: int,
        pool: ThreadPoolExecutor,
        stop: threading.Event | None,
        isolate: bool,
        report: ScanReport,
        sizes: PageSizes,
        on_page: Callable[[Page], Page] | None = None,
    ) -> None:
        self.client = client
        self.on_page = on_page
        self.endpoint = endpoint
        self.key = (client.brand.api_url, client.brand.key, endpoint.name)
        self.sizes = sizes
        self.take = sizes.take_for(self.key, take)
        self.cursor = start
        """Where the next page in offset order starts."""
        self.window = window
        self.pool = pool
        self.stop = stop
        self.isolate = isolate
        self.report = report
        report.take = self.take
        self.pending: deque[_Request] = deque()
        self.ready: deque[Page] = deque()
        self.accepted = False
        """A page of the current size was answered (so a refusal is not about the size)."""
        self.short: int | None = None
        """Items of the short page the next request probes after (None: not probing)."""
        self.recent: deque[list[Any]] = deque(maxlen=window + 2)
        """The items of the last pages, to tell a probe that found only records pushed
        along by inserts ahead of the scan (offset drift) from one that found more."""
        self.refused: list[int] = []
        self.failures = 0
        self.ended = False

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def has_ready(self) -> bool:
        """The next page can be handed out without waiting for the API."""
        if self.ready:
            return True
        if not self.pending or not self.pending[0].future.done():
            return False
        return self.pending[0].future.exception() is None

    def next_page(self) -> Page | None:
        """The next page in offset order; None after the last one or once `stop` is set."""
        while not self.ready:
            if self.ended:
                return None
            self.fill()
            if not self.pending:
                return None
            request = self.pending.popleft()
            try:
                page = request.future.result()
            except ApiError as exc:
                self.failed(request, exc)
                continue
            self.received(page)
        if not self.ended:
            self.fill()
        return self.ready.popleft()

    def fill(self) -> None:
        """Keep the window full, or one request only while probing or finding a size."""
        limit = self.window if self.accepted and self.short is None else 1
        skip = self.pending[-1].end if self.pending else self.cursor
        while len(self.pending) < limit and not self.stopped():
            future = self.pool.submit(self._fetch, self.take, skip)
            self.pending.append(_Request(skip, self.take, future))
            skip += self.take

    def _fetch(self, take: int, skip: int) -> Page:
        page = self.client.fetch_page(self.endpoint, take, skip)
        return page if self.on_page is None else self.on_page(page)

    def replan(self) -> None:
        """Drop the requests made in advance (their offsets or size no longer hold)."""
        for request in self.pending:
            request.future.cancel()
        self.pending.clear()

    def received(self, page: Page) -> None:
        self.ready.append(page)
        if not self.accepted and self.refused:
            self.sizes.stepped_down(self.key, self.refused, self.take)
            self.report.refused.extend(self.refused)
        self.accepted = True
        count = len(page.items)
        if count == 0 or (self.short is not None and _already_held(page.items, self.recent)):
            self.ended = self.report.complete = True
            return
        self.recent.append(page.items)
        if self.short is not None and self.short <= count < self.take:
            self.sizes.capped(self.key, self.take, self.short)
            self.take = self.report.take = self.report.cap = self.short
        self.short = count if count < self.take else None
        self.cursor = page.next_skip
        head = self.pending[0] if self.pending else None
        if head is not None and (head.skip != self.cursor or head.take != self.take):
            self.replan()

    def failed(self, request: _Request, error: ApiError) -> None:
        """A refused size steps down; a failing page is isolated, or ends the scan."""
        self.replan()
        if refuses_page_size(error) and not self.accepted and self.take > 1:
            self.refused.append(self.take)
            self.take = self.report.take = smaller_take(self.take)
            return
        if not self.isolate:
            self.report.failed_at = request.skip
            raise error
        self.recover(request)

    def recover(self, request: _Request) -> None:
        """Fetch `request`'s range in halving parts (doubling again after a success)."""
        self.report.isolated.append(request.skip)
        offset, end = request.skip, request.end
        size = smaller_take(request.take)
        while offset < end and not self.stopped():
            try:
                page = self.client.fetch_page(self.endpoint, min(size, end - offset), offset)
            except ApiError as error:
                self.failures += 1
                if self.failures > ISOLATION_FAILURE_BUDGET:
                    self.report.failed_at = offset
                    raise
                if size > 1:
                    size = smaller_take(size)
                else:
                    self.report.unreachable.append(Unreachable(offset, str(error)))
                    offset += 1
                continue
            self.ready.append(page)
            if page.is_last:
                self.ended = self.report.complete = True
                return
            offset = page.next_skip
            size = min(size * 2, request.take)
        self.cursor = offset
        self.short = None


def _already_held(items: list[Any], recent: Iterable[list[Any]]) -> bool:
    """Every item of a probe is one a page just before it held: the list shifted under
    the scan (records inserted ahead of it pushed these along), so nothing lies beyond
    its end, and asking further would only chase the shift."""
    pages = list(recent)
    return all(any(item in held for held in pages) for item in items)


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
