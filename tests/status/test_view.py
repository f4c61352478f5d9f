"""The view model and its renderings, from hand-built snapshots (no database, no clock)."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from worker.auth.manager import TokenStatus
from worker.auth.token import TokenState
from worker.status import format as fmt
from worker.status.model import DatabaseData, JobInfo, LeaseRow, RejectRow, RunRow, Snapshot
from worker.status.page import render_html
from worker.status.payload import as_dict, render_json
from worker.status.sparkline import describe, sparkline
from worker.status.view import (
    NEVER_RUN,
    RUN_BADGES,
    Point,
    build_view,
    run_badge,
    token_badge,
    token_view,
)

NOW = 1_800_000_000.0


def token(state: TokenState, **changes: object) -> TokenStatus:
    base = TokenStatus(
        brand="AZURA",
        state=state,
        expires_at=NOW + 3600,
        refresh_at=NOW + 1800,
        fingerprint="0a1b2c3d",
        source="api",
        store="postgres",
        last_error=None,
        retry_at=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def run(
    i: int, status: str = "succeeded", *, brand: str = "AZURA", entity: str = "properties"
) -> RunRow:
    return RunRow(
        id=i,
        brand=brand,
        entity=entity,
        mode="scheduled",
        status=status,
        started_at=NOW - 60 * i,
        finished_at=NOW - 60 * i + 2,
        duration_seconds=2.0 + i,
        seen=100,
        inserted=i,
        updated=1,
        unchanged=90,
        rejected=0,
        delisted=1,
        error="boom" if status == "failed" else None,
    )


def snapshot(**changes: object) -> Snapshot:
    base = Snapshot(
        now=NOW,
        tokens=[token(TokenState.FRESH), token(TokenState.FRESH, brand="BLUE_OCEAN")],
        jobs=[JobInfo("AZURA", "properties", "15m", NOW + 300)],
        database=DatabaseData(),
        holder="host:1:abc",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# -- formatting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45.9, "45s"),
        (65, "1m 05s"),
        (3600 + 180, "1h 03m"),
        (86400 * 3 + 7200, "3d 02h"),
    ],
)
def test_span(seconds: float, text: str) -> None:
    assert fmt.span(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "—"), (0.42, "0.4s"), (12.34, "12.3s"), (125, "2m 05s")]
)
def test_duration(seconds: float | None, text: str) -> None:
    assert fmt.duration(seconds) == text


@pytest.mark.parametrize(
    ("at", "text"),
    [
        (None, "—"),
        (NOW, "now"),
        (NOW + 0.5, "now"),
        (NOW + 90, "in 1m 30s"),
        (NOW - 7200, "2h 00m ago"),
    ],
)
def test_relative(at: float | None, text: str) -> None:
    assert fmt.relative(at, NOW) == text


def test_clock_and_one_line() -> None:
    assert fmt.clock_time(0) == "1970-01-01 00:00:00 UTC"
    assert fmt.iso(0) == "1970-01-01T00:00:00+00:00"
    assert fmt.one_line("a\n  b\tc") == "a b c"
    cut = fmt.one_line("x" * 300, limit=10)
    assert cut is not None
    assert len(cut) == 10
    assert cut.endswith("…")


# -- states -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "label", "tone"),
    [
        (TokenState.FRESH, "FRESH", "ok"),
        (TokenState.STALE, "STALE", "warn"),
        (TokenState.EXPIRED, "EXPIRED", "bad"),
        (TokenState.MISSING, "MISSING", "idle"),
        (TokenState.FAILED, "FAILED", "bad"),
    ],
)
def test_every_token_state_has_a_text_label(state: TokenState, label: str, tone: str) -> None:
    badge = token_badge(state)
    assert (badge.label, badge.tone) == (label, tone)
    html = render_html(build_view(snapshot(tokens=[token(state)])))
    assert f">{label}</span>" in html


def test_failed_token_shows_error_retry_and_no_times() -> None:
    status = token(
        TokenState.FAILED,
        expires_at=None,
        refresh_at=None,
        fingerprint=None,
        last_error="keys refused (401)\nsecond line",
        retry_at=NOW + 30,
    )
    view = token_view(status, NOW, scrub=lambda s: s.replace("401", "[x]"))
    assert view.last_error == "keys refused ([x])"  # the first line only
    assert view.retry_in == "in 30s"
    assert (view.expires_in, view.renews_in, view.fingerprint) == ("—", "—", None)


@pytest.mark.parametrize("status", sorted(RUN_BADGES))
def test_every_run_status_renders_as_text(status: str) -> None:
    badge = run_badge(status)
    view = build_view(snapshot(database=DatabaseData(runs=[run(1, status)])))
    job = view.brands[0].jobs[0]
    assert job.status == badge
    assert f">{badge.label}</span>" in render_html(view)


def test_unknown_and_missing_run_status() -> None:
    assert run_badge(None) == NEVER_RUN
    assert run_badge("paused_by_moon").label == "Paused by moon"
    assert run_badge("paused_by_moon").tone == "idle"


def test_brand_and_overall_summaries_take_the_worst_tone() -> None:
    runs = [run(1, "failed", brand="BLUE_OCEAN"), run(1)]
    view = build_view(snapshot(database=DatabaseData(runs=runs)))
    by_brand = {b.brand: b.summary.label for b in view.brands}
    assert by_brand == {"AZURA": "Healthy", "BLUE_OCEAN": "Failing"}
    assert view.overall.label == "Failing"


def test_empty_data_renders_waiting_page() -> None:
    view = build_view(Snapshot(now=NOW, tokens=[], jobs=[], database=DatabaseData()))
    assert view.brands == []
    assert view.overall.label == "Waiting"
    html = render_html(view)
    assert "No brand configured." in html
    assert "No lease is held now." in html
    assert "No rejected record." in html
    assert as_dict(view)["brands"] == []


def test_job_without_runs_and_runs_without_job() -> None:
    runs = [run(1, entity="geo")]
    view = build_view(snapshot(database=DatabaseData(runs=runs)))
    azura = view.brands[0]
    jobs = {j.entity: j for j in azura.jobs}
    assert [j.entity for j in azura.jobs] == ["properties", "geo"]
    assert jobs["properties"].status == NEVER_RUN
    assert jobs["properties"].next_run == "in 5m 00s"
    assert jobs["geo"].schedule is None
    assert jobs["geo"].next_run == "not scheduled"


def test_last_run_history_is_oldest_first() -> None:
    runs = [run(i) for i in range(1, 21)]
    job = build_view(snapshot(database=DatabaseData(runs=runs))).brands[0].jobs[0]
    assert job.last is not None
    assert job.last.id == 1
    assert job.last.started_ago == "1m 00s ago"
    assert job.last.duration == "3.0s"
    assert [p.started_at for p in job.history] == sorted(p.started_at for p in job.history)
    assert job.history[-1].changes == 1 + 1 + 1


def test_database_error_is_shown_and_fails_overall() -> None:
    view = build_view(
        snapshot(database=DatabaseData(error="database unavailable: OperationalError"))
    )
    assert view.overall.label == "Failing"
    assert 'role="alert">database unavailable: OperationalError' in render_html(view)


def test_leases_mark_this_replica_and_rejects_show_reason_only() -> None:
    data = DatabaseData(
        leases=[
            LeaseRow("sync:AZURA:properties", "host:1:abc", NOW - 5, NOW + 55),
            LeaseRow("sync:BLUE_OCEAN:geo", "other:2:def", NOW - 65, NOW + 10),
        ],
        rejects=[RejectRow(NOW - 10, "AZURA", "properties", None, "ListPrice: <bad>", 7)],
    )
    view = build_view(snapshot(database=data))
    assert [(x.mine, x.held_for, x.expires_in) for x in view.leases] == [
        (True, "5s", "in 55s"),
        (False, "1m 05s", "in 10s"),
    ]
    html = render_html(view)
    assert "host:1:abc (this replica)" in html
    assert "ListPrice: &lt;bad&gt;" in html
    assert view.rejects[0].source_id == "—"


# -- sparkline ----------------------------------------------------------------------------


def points(n: int) -> list[Point]:
    return [
        Point(NOW + i, "failed" if i == 3 else "succeeded", float(i + 1), i * 2) for i in range(n)
    ]


def test_sparkline_with_no_points_is_an_empty_labelled_frame() -> None:
    svg = sparkline([])
    assert 'aria-label="no runs yet"' in svg
    assert "<polyline" not in svg
    assert "<circle" not in svg


def test_sparkline_with_one_point_draws_dots() -> None:
    svg = sparkline(points(1))
    assert svg.count("<circle") == 2
    assert "<polyline" not in svg
    assert describe(points(1)) == "last 1 run: duration 1.0s to 1.0s, row changes 0 to 0"


def test_sparkline_with_twenty_points_draws_both_lines_in_the_box() -> None:
    svg = sparkline(points(20))
    lines = re.findall(r'<polyline class="(\w+)" fill="none" points="([^"]+)"', svg)
    assert [name for name, _ in lines] == ["changes", "duration"]
    for _, text in lines:
        xy = [tuple(map(float, pair.split(","))) for pair in text.split()]
        assert len(xy) == 20
        assert all(0 <= x <= 120 and 0 <= y <= 32 for x, y in xy)
        assert xy[0][0] < xy[-1][0]
    assert svg.count('class="fail"') == 1
    assert "1 failed" in describe(points(20))


def test_sparkline_survives_zero_and_missing_values() -> None:
    flat = [Point(NOW, "running", None, 0), Point(NOW + 1, "succeeded", 0.0, 0)]
    svg = sparkline(flat)
    assert "nan" not in svg
    assert "no durations" not in describe(flat)


# -- documents ----------------------------------------------------------------------------


def test_html_document_is_self_contained_and_refreshing() -> None:
    runs = [run(i) for i in range(1, 21)]
    html = render_html(build_view(snapshot(database=DatabaseData(runs=runs))))
    assert html.startswith("<!doctype html>")
    assert '<meta http-equiv="refresh" content="30">' in html
    assert "<script" not in html
    assert "<form" not in html
    assert "<button" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert html.count("<svg") == 1


def test_json_has_the_same_data_as_the_page() -> None:
    runs = [run(i) for i in range(1, 4)]
    view = build_view(snapshot(database=DatabaseData(runs=runs)))
    body = json.loads(render_json(view))
    assert body["version"] == 1
    assert body["overall"]["label"] == view.overall.label
    azura = body["brands"][0]
    assert azura["token"]["state"]["label"] == "FRESH"
    assert azura["jobs"][0]["last"]["counts"]["seen"] == 100
    assert len(azura["jobs"][0]["history"]) == 3


def test_error_texts_show_their_first_line_only() -> None:
    assert fmt.first_line("boom\nTraceback (most recent call last):\n  x") == "boom"
    assert fmt.first_line("\n\n  second is first  \nthird") == "second is first"
    assert fmt.first_line(None) is None
    assert fmt.first_line("") == ""
    data = DatabaseData(
        runs=[replace(run(1, "failed"), error="sink failed\n[SQL: INSERT …]")],
        error="database unreachable\nDETAIL: more",
    )
    view = build_view(snapshot(database=data))
    last = view.brands[0].jobs[0].last
    assert last is not None
    assert last.error == "sink failed"
    assert view.database_error == "database unreachable"
    assert "[SQL" not in render_html(view)
    assert "DETAIL" not in render_json(view)


def test_a_brand_whose_jobs_succeeded_is_healthy_while_a_daily_job_waits_its_first_turn() -> None:
    """Eight good runs and a daily image sweep that has not run yet: Healthy, not Waiting."""
    jobs = [
        JobInfo("AZURA", "properties", "15m", NOW + 300),
        JobInfo("AZURA", "images", "1d", NOW + 80_000),
    ]
    runs = [run(i) for i in range(1, 9)]
    view = build_view(snapshot(jobs=jobs, database=DatabaseData(runs=runs)))
    azura = next(b for b in view.brands if b.brand == "AZURA")
    assert [j.status.label for j in azura.jobs] == ["Succeeded", "Never run"]
    assert azura.summary.label == "Healthy"
    assert view.overall.label == "Healthy"


def test_nothing_run_at_all_is_still_waiting_and_a_failure_still_wins() -> None:
    jobs = [JobInfo("AZURA", "properties", "15m", NOW + 300)]
    idle = build_view(snapshot(tokens=[token(TokenState.MISSING)], jobs=jobs))
    assert idle.overall.label == "Waiting"
    failing = build_view(snapshot(jobs=jobs, database=DatabaseData(runs=[run(1, "failed")])))
    assert failing.overall.label == "Failing"
