"""The AIMD image limiter, on an injected clock: grows on clean fast answers, halves on
429/503/no answer once per level, stays within floor and cap, holds while latency rises."""

from __future__ import annotations

import threading

import pytest

from worker.sync.concurrency import AimdLimiter, LimitedPool

FAST = 0.010


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(start: int = 4, cap: int = 32, floor: int = 1) -> tuple[AimdLimiter, Clock]:
    clock = Clock()
    return AimdLimiter(start=start, cap=cap, floor=floor, clock=clock), clock


def clean(limiter: AimdLimiter, clock: Clock, answers: int, seconds: float = FAST) -> None:
    for _ in range(answers):
        clock.now += seconds
        limiter.observe(200, seconds)


def test_grows_by_one_per_window_of_clean_fast_answers() -> None:
    aimd, clock = limiter(start=4)
    clean(aimd, clock, 3)
    assert aimd.limit == 4
    clean(aimd, clock, 1)
    assert aimd.limit == 5
    clean(aimd, clock, 5)
    assert aimd.limit == 6


def test_a_not_found_answer_is_clean_too() -> None:
    aimd, _ = limiter(start=2)
    aimd.observe(404, FAST)
    aimd.observe(404, FAST)
    assert aimd.limit == 3


@pytest.mark.parametrize("status", [429, 503, None])
def test_halves_on_429_503_or_no_answer(status: int | None) -> None:
    aimd, clock = limiter(start=20)
    clock.now += 1
    aimd.observe(status, FAST)
    assert aimd.limit == 10


def test_answers_to_requests_sent_before_the_decrease_do_not_halve_it_again() -> None:
    aimd, clock = limiter(start=16)
    clock.now += 1
    for _ in range(10):  # ten requests in flight at the old level, all refused together
        aimd.observe(429, 0.5)
    assert aimd.limit == 8
    clock.now += 1
    aimd.observe(429, 0.1)  # sent after the decrease: halves again
    assert aimd.limit == 4


def test_other_errors_are_neutral() -> None:
    aimd, clock = limiter(start=8)
    for status in (500, 502, 400, 401, 403):
        aimd.observe(status, FAST)
    assert aimd.limit == 8
    clean(aimd, clock, 7)  # the neutral answers did not count as clean...
    assert aimd.limit == 8
    clean(aimd, clock, 1)  # ...nor halve it
    assert aimd.limit == 9


def test_never_above_the_cap_nor_below_the_floor() -> None:
    aimd, clock = limiter(start=4, cap=6, floor=2)
    clean(aimd, clock, 1000)
    assert aimd.limit == 6
    for _ in range(10):
        clock.now += 10
        aimd.observe(503, FAST)
    assert aimd.limit == 2
    assert AimdLimiter(start=100, cap=8).limit == 8
    assert AimdLimiter(start=0, cap=8, floor=3).limit == 3
    with pytest.raises(ValueError, match="floor <= cap"):
        AimdLimiter(start=1, cap=2, floor=3)


def test_a_rising_latency_stops_growth_and_a_falling_one_resumes_it() -> None:
    aimd, clock = limiter(start=4)
    clean(aimd, clock, 4, seconds=0.010)
    assert aimd.limit == 5
    clean(aimd, clock, 50, seconds=0.100)  # queueing: ten times the best latency
    assert aimd.limit == 5
    clean(aimd, clock, 50, seconds=0.010)
    assert aimd.limit > 5


def test_a_small_rise_in_absolute_terms_does_not_stop_growth() -> None:
    aimd, clock = limiter(start=4)
    clean(aimd, clock, 1, seconds=0.0005)
    clean(aimd, clock, 30, seconds=0.003)  # 6x the best, but only 2.5 ms more: noise
    assert aimd.limit > 6


def test_recovers_after_a_burst_of_throttling() -> None:
    seen: list[int] = []
    clock = Clock()
    aimd = AimdLimiter(start=12, cap=32, clock=clock, on_change=seen.append)
    clean(aimd, clock, 200)
    top = aimd.limit
    for _ in range(3):
        clock.now += 1
        aimd.observe(429, FAST)
    assert aimd.limit == max(1, top // 8)
    clean(aimd, clock, 400)
    assert aimd.limit > top // 8
    assert seen[0] == 12
    assert min(seen) == top // 8
    assert seen[-1] == aimd.limit


def test_a_fixed_limiter_never_moves() -> None:
    aimd = AimdLimiter(start=12, cap=12, floor=12)
    for _ in range(100):
        aimd.observe(200, FAST)
    aimd.observe(429, FAST)
    assert aimd.limit == 12


def test_the_pool_never_runs_more_than_the_limit_and_follows_it_when_it_grows() -> None:
    aimd, clock = limiter(start=2, cap=8)
    running = 0
    most = 0
    lock = threading.Lock()
    gate = threading.Event()

    def work(item: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        gate.wait(5)
        with lock:
            running -= 1
        return item * 2

    with LimitedPool(aimd) as pool:
        futures = [pool.submit(work, i) for i in range(20)]
        while aimd.in_flight < 2:
            threading.Event().wait(0.001)
        assert most <= 2
        clean(aimd, clock, 2)
        clean(aimd, clock, 3)
        assert aimd.limit == 4
        gate.set()
        assert [f.result() for f in futures] == [i * 2 for i in range(20)]
    assert most <= 4
    assert aimd.in_flight == 0


def test_the_pool_maps_in_order_and_raises_the_first_error() -> None:
    with LimitedPool(AimdLimiter(start=3, cap=3, floor=3)) as pool:
        assert pool.map(lambda x: x + 1, range(50)) == list(range(1, 51))

        def fail(x: int) -> int:
            if x == 7:
                raise RuntimeError("seven")
            return x

        with pytest.raises(RuntimeError, match="seven"):
            pool.map(fail, range(20))
