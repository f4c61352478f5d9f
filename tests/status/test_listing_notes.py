"""The status page names what a finished run could not finish: listings whose images
failed, delisting candidates kept because their confirmation failed, listings absent
from the list but online in their details (counts from `sync_runs.details`)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from tests.status.test_view import NOW, run, snapshot
from worker.cli.status import print_view
from worker.db.schema import RunCounts, RunRecord
from worker.status.model import DatabaseData
from worker.status.page import render_html
from worker.status.payload import as_dict
from worker.status.queries import load_runs
from worker.status.view import build_view


class Ledger:
    def __init__(self, details: dict[str, Any] | None) -> None:
        self.record = RunRecord(
            id=1,
            brand="AZURA",
            entity="properties",
            mode="scheduled",
            status="succeeded_with_rejects",
            started_at=datetime.fromtimestamp(NOW, UTC),
            finished_at=datetime.fromtimestamp(NOW + 2, UTC),
            counts=RunCounts(seen=100, rejected=3),
            checkpoint=100,
            duration_seconds=2.0,
            error=None,
            resumed_from=None,
            details=details,
        )

    def recent_runs(
        self, brand: str | None = None, limit: int = 20, entity: str | None = None
    ) -> list[RunRecord]:
        if entity not in (None, "properties") or brand not in (None, "AZURA"):
            return []
        return [self.record]


def test_the_counts_come_from_the_runs_details() -> None:
    details = {
        "images": {"failed": 3, "incomplete": 4},
        "delisting": {"unconfirmed": 2, "confirmed_listed": 1},
    }
    (row,) = load_runs(Ledger(details), ["AZURA"])  # type: ignore[arg-type]
    assert (row.images_failed, row.delist_unconfirmed, row.absent_listed) == (3, 2, 1)
    (empty,) = load_runs(Ledger({"images": "junk"}), ["AZURA"])  # type: ignore[arg-type]
    assert (empty.images_failed, empty.delist_unconfirmed, empty.absent_listed) == (0, 0, 0)


def test_the_page_and_the_json_show_one_line_per_kind() -> None:
    noted = replace(
        run(1, "succeeded_with_rejects"), images_failed=3, delist_unconfirmed=1, absent_listed=2
    )
    view = build_view(snapshot(database=DatabaseData(runs=[noted])))
    html = render_html(view)
    assert "3 listings whose images could not be fetched" in html
    assert "1 listing kept: the delisting confirmation failed" in html
    assert "2 listings absent from the list but online in their details" in html
    (brand,) = [b for b in as_dict(view)["brands"] if b["brand"] == "AZURA"]
    (job,) = brand["jobs"]
    assert len(job["last"]["notes"]) == 3


def test_a_clean_run_has_no_note() -> None:
    view = build_view(snapshot(database=DatabaseData(runs=[run(1)])))
    assert 'class="note"' not in render_html(view)


def test_the_terminal_prints_the_same_lines() -> None:
    noted = replace(run(1, "succeeded_with_rejects"), images_failed=1)
    view = build_view(snapshot(database=DatabaseData(runs=[noted])))
    out = io.StringIO()
    print_view(Console(file=out, width=200, color_system=None), view)
    assert "properties: 1 listing whose images could not be fetched" in out.getvalue()
