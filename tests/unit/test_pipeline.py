from __future__ import annotations

import threading
from typing import Any

import pytest

from worker.api.client import Page
from worker.errors import ApiStatusError, StopRequested
from worker.sync.delisting import guard_limit
from worker.sync.pipeline import fetch_pages, map_bounded


class Endpoint:
    def path(self, take: int, skip: int) -> str:
        return f"x/take/{take}/skip/{skip}"

    def items(self, body: Any) -> list[Any]:
        return list(body)


class FakeClient:
    """Serves `total` numbered records; records which offsets were asked for."""

    def __init__(self, total: int, fail_at: int | None = None) -> None:
        self.total = total
        self.fail_at = fail_at
        self.asked: list[int] = []
        self.lock = threading.Lock()

    def fetch_page(self, endpoint: Endpoint, take: int, skip: int) -> Page:
        with self.lock:
            self.asked.append(skip)
        if skip == self.fail_at:
            raise ApiStatusError(500, "boom", path=endpoint.path(take, skip))
        return Page(skip, take, list(range(skip, min(skip + take, self.total))))


def pages(client: FakeClient, **kwargs: Any) -> list[Page]:
    return list(fetch_pages(client, Endpoint(), 10, **kwargs))  # type: ignore[arg-type]


def test_pages_arrive_in_order_and_end_at_the_short_page() -> None:
    client = FakeClient(95)
    got = pages(client, parallelism=3, prefetch=5)
    assert [p.skip for p in got] == list(range(0, 100, 10))
    assert [i for p in got for i in p.items] == list(range(95))


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
