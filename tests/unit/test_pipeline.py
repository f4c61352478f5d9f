from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest
from structlog.testing import capture_logs

from worker.api.client import Page
from worker.api.paging import PageSizes
from worker.errors import ApiStatusError, StopRequested
from worker.sync.delisting import guard_limit
from worker.sync.pipeline import ScanReport, fetch_page_batches, fetch_pages, map_bounded


class Brand:
    key = "AZURA"
    api_url = "http://127.0.0.1:1/api/v1"


class Endpoint:
    name = "x"

    def path(self, take: int, skip: int) -> str:
        return f"x/take/{take}/skip/{skip}"

    def items(self, body: Any) -> list[Any]:
        return list(body)


class FakeClient:
    """Serves `total` numbered records; records which offsets (and sizes) were asked for.

    `cap`: at most that many items whatever `take` asked; `max_take`: a larger take is
    refused with the API's invalid-request 404; `bad`: a page covering one of these
    offsets answers 500; `short`: the page at these offsets answers one item fewer.
    """

    brand = Brand()

    def __init__(
        self,
        total: int,
        fail_at: int | None = None,
        *,
        cap: int | None = None,
        max_take: int | None = None,
        bad: frozenset[int] = frozenset(),
        short: frozenset[int] = frozenset(),
        refusal: tuple[int, str] = (404, "bad_request"),
    ) -> None:
        self.total = total
        self.fail_at = fail_at
        self.cap = cap
        self.max_take = max_take
        self.bad = bad
        self.short = short
        self.refusal = refusal
        self.asked: list[int] = []
        self.takes: list[int] = []
        self.lock = threading.Lock()

    def fetch_page(self, endpoint: Endpoint, take: int, skip: int) -> Page:
        with self.lock:
            self.asked.append(skip)
            self.takes.append(take)
        path = endpoint.path(take, skip)
        if skip == self.fail_at or any(skip <= b < skip + take for b in self.bad):
            raise ApiStatusError(500, "boom", path=path)
        if self.max_take is not None and take > self.max_take:
            status, kind = self.refusal
            raise ApiStatusError(status, "The request is invalid.", path=path, body_kind=kind)
        served = min(take, self.cap or take) - (1 if skip in self.short else 0)
        return Page(skip, take, list(range(skip, min(skip + served, self.total))))


def pages(client: FakeClient, **kwargs: Any) -> list[Page]:
    return list(fetch_pages(client, Endpoint(), 10, **kwargs))  # type: ignore[arg-type]


def test_pages_arrive_in_order_and_end_at_the_empty_page_after_the_short_one() -> None:
    client = FakeClient(95)
    got = pages(client, parallelism=3, prefetch=5)
    assert [p.skip for p in got] == [*range(0, 100, 10), 95]
    assert [i for p in got for i in p.items] == list(range(95))
    assert sorted(set(client.asked) - set(range(0, 200, 10))) == [95], "one end-of-list probe"


def scan(client: FakeClient, take: int = 100, **kwargs: Any) -> tuple[list[int], ScanReport]:
    report = ScanReport(take)
    kwargs.setdefault("sizes", PageSizes())
    batches = fetch_page_batches(
        client,  # type: ignore[arg-type]
        Endpoint(),
        take,
        parallelism=4,
        prefetch=8,
        max_items=250,
        report=report,
        **kwargs,
    )
    return [i for batch in batches for page in batch for i in page.items], report


@pytest.mark.parametrize("total", [0, 49, 50, 1200, 1234])
def test_a_silent_cap_is_learnt_once_and_no_record_is_skipped_or_repeated(total: int) -> None:
    sizes = PageSizes()
    with capture_logs() as logs:
        items, report = scan(FakeClient(total, cap=50), sizes=sizes)
        again, second = scan(FakeClient(total, cap=50), sizes=sizes)
    assert items == again == list(range(total))
    assert report.complete
    assert second.complete
    learnt = [e for e in logs if e["event"] == "api.page_cap_learned"]
    if total > 50:
        assert report.cap == 50
        assert second.take == 50
        assert learnt == [
            {**learnt[0], "brand": "AZURA", "endpoint": "x", "asked": 100, "cap": 50}
        ], "logged once per brand and endpoint"
    else:
        assert report.cap is None
        assert not learnt


def test_a_short_page_in_the_middle_is_not_the_end_and_prefetched_pages_are_replanned() -> None:
    client = FakeClient(1000, short=frozenset({300, 599}))
    items, report = scan(client)
    assert items == list(range(1000))
    assert report.complete
    assert report.cap is None
    assert report.take == 100


@pytest.mark.parametrize(
    "refusal", [(404, "bad_request"), (404, "not_found"), (404, "no_route"), (400, "other")]
)
def test_a_refused_page_size_steps_down_and_is_remembered_never_below_one(
    refusal: tuple[int, str],
) -> None:
    sizes = PageSizes()
    with capture_logs() as logs:
        items, report = scan(FakeClient(300, max_take=30, refusal=refusal), sizes=sizes)
    assert items == list(range(300))
    assert report.refused == [100, 50]
    assert report.take == 25
    assert [e["refused"] for e in logs if e["event"] == "api.page_size_stepped_down"] == [[100, 50]]
    client = FakeClient(300, max_take=30)
    assert scan(client, sizes=sizes)[0] == list(range(300))
    assert set(client.takes) == {25}, "the size that worked is used from the first page"
    with pytest.raises(ApiStatusError, match="invalid"):
        scan(FakeClient(300, max_take=0, refusal=refusal))


def test_a_failing_page_raises_after_the_pages_before_it_with_its_offset() -> None:
    report = ScanReport(10)
    got: list[int] = []

    def read(stream: Iterable[Page]) -> None:
        for page in stream:
            got.extend(page.items)

    stream = fetch_pages(FakeClient(100, bad=frozenset({37})), Endpoint(), 10)  # type: ignore[arg-type]
    with pytest.raises(ApiStatusError):
        read(stream)
    assert got == list(range(30))
    got.clear()
    batches = fetch_page_batches(
        FakeClient(100, bad=frozenset({37})),  # type: ignore[arg-type]
        Endpoint(),
        10,
        report=report,
        sizes=PageSizes(),
    )
    with pytest.raises(ApiStatusError):
        read(page for batch in batches for page in batch)
    items = got
    assert items == list(range(30))
    assert report.failed_at == 30
    assert not report.complete


def test_isolating_a_failing_page_fetches_every_other_record_and_names_the_offset() -> None:
    items, report = scan(FakeClient(1234, bad=frozenset({537, 538, 1100})), isolate=True)
    assert items == [i for i in range(1234) if i not in (537, 538, 1100)]
    assert [u.offset for u in report.unreachable] == [537, 538, 1100]
    assert report.isolated == [500, 1100]
    assert report.complete


def test_exact_multiple_ends_at_the_empty_page_and_start_offset_is_honoured() -> None:
    got = pages(FakeClient(40), start=20)
    assert [len(p.items) for p in got] == [10, 10, 0]


def test_prefetch_is_bounded() -> None:
    client = FakeClient(10_000)
    stream = fetch_pages(client, Endpoint(), 10, parallelism=2, prefetch=4)  # type: ignore[arg-type]
    next(stream)
    assert len(client.asked) <= 5
    stream.close()


def test_a_failed_page_is_raised_in_order() -> None:
    with pytest.raises(ApiStatusError):
        pages(FakeClient(100, fail_at=30))


def test_stop_ends_the_stream_without_new_requests() -> None:
    stop = threading.Event()
    client = FakeClient(10_000)
    stream = fetch_pages(client, Endpoint(), 10, parallelism=2, prefetch=2, stop=stop)  # type: ignore[arg-type]
    next(stream)
    stop.set()
    rest = list(stream)
    assert len(rest) <= 2


def test_map_bounded_keeps_order() -> None:
    assert map_bounded(lambda x: x * 2, range(20), parallelism=4) == [x * 2 for x in range(20)]


@pytest.mark.parametrize(("active", "limit"), [(0, 25), (100, 25), (250, 25), (1000, 100)])
def test_delist_guard_is_max_of_minimum_and_ten_percent(active: int, limit: int) -> None:
    assert guard_limit(active, 25, 0.10) == limit


def test_map_bounded_starts_no_call_once_stop_is_set_and_raises_stop_requested() -> None:
    stop = threading.Event()
    started: list[int] = []
    lock = threading.Lock()

    def work(item: int) -> int:
        with lock:
            started.append(item)
        if item == 0:
            stop.set()
        return item

    with pytest.raises(StopRequested):
        map_bounded(work, range(200), parallelism=2, stop=stop)
    assert len(started) < 200
    with pytest.raises(StopRequested):
        map_bounded(work, range(5), parallelism=1, stop=stop)


class DriftingClient(FakeClient):
    """Newest first; `inserts` new records pushed in at the front before every page with
    `skip > 0` (the sandbox's offset drift), so records slide past the scan's offsets."""

    def __init__(self, total: int, inserts: int) -> None:
        super().__init__(total)
        self.records = list(range(total))
        self.inserts = inserts

    def fetch_page(self, endpoint: Endpoint, take: int, skip: int) -> Page:
        with self.lock:
            self.asked.append(skip)
            if skip > 0:
                fresh = range(len(self.records), len(self.records) + self.inserts)
                self.records[:0] = list(fresh)
            return Page(skip, take, self.records[skip : skip + take])


@pytest.mark.parametrize("inserts", [1, 2, 5])
def test_offset_drift_ends_the_scan_and_keeps_every_record_it_started_with(inserts: int) -> None:
    client = DriftingClient(95, inserts)
    items, report = scan(client, take=10)
    assert set(range(95)) <= set(items)
    assert report.complete
    assert report.cap is None
    assert len(client.asked) < 40
