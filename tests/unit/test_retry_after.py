"""`retry_after_seconds`: both RFC 9110 forms of `Retry-After`, relative to an injected now."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from worker.retry_after import retry_after_seconds

NOW = 1_780_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("-3", 0.0),
        (formatdate(NOW + 90, usegmt=True), 90.0),
        (formatdate(NOW + 90, localtime=False), 90.0),
        (formatdate(NOW - 600, usegmt=True), 0.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
    ],
)
def test_delay_seconds_and_http_dates_become_seconds_from_now(value: str, seconds: float) -> None:
    assert retry_after_seconds(value, now=NOW) == pytest.approx(seconds)


def test_a_date_is_counted_from_the_injected_now() -> None:
    date = formatdate(NOW + 30, usegmt=True)
    assert retry_after_seconds(date, now=NOW + 10) == pytest.approx(20.0)
    assert retry_after_seconds(date, now=NOW + 45) == 0.0


def test_a_date_without_a_zone_is_read_as_gmt() -> None:
    date = formatdate(NOW + 60, usegmt=True).replace("GMT", "-0000")
    assert retry_after_seconds(date, now=NOW) == pytest.approx(60.0)


@pytest.mark.parametrize(
    "value", [None, "", "   ", "soon", "nan", "inf", "Fri, 99 Foo 2026 25:61:00 GMT", "1e999"]
)
def test_garbage_is_none(value: str | None) -> None:
    assert retry_after_seconds(value, now=NOW) is None
