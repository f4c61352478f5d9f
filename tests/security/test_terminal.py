"""Issue 14, point 6 and the reject-reason part of point 8: text from the API stays text
in every CLI output (runs table, status tables, one-line failures)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from rich.console import Console

from tests.reliability.conftest import Figures
from worker.cli import status as status_commands
from worker.cli import sync as sync_commands
from worker.cli import terminal
from worker.db.schema import RunCounts, RunRecord
from worker.safe_text import visible
from worker.status.model import RejectRow
from worker.status.view import Badge, StatusView, reject_view

HOSTILE = (
    "[/bold] unbalanced",
    "[link=https://evil.example]click[/link] [bold red]x[/]",
    ":skull: :thumbs_up:",
    "\x1b[2K\r AZURA/properties succeeded",
    "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "\u202eevil\u202c and \u2066isolate\u2069",
    "C1 \x9b31m control",
)
RICH_STYLE = re.compile("\x1b\\[[0-9;]*m")
"""The SGR colour codes rich itself writes to a terminal (removed before looking)."""
FORBIDDEN = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\r", "💀", "👍")


def terminal_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=400, color_system="truecolor"), buffer


def assert_inert(text: str, hostile: str) -> None:
    """No control character, emoji or hyperlink of `hostile` reached `text`; its markup and
    emoji codes show as the literal text they are."""
    text = RICH_STYLE.sub("", text)
    assert not [c for c in FORBIDDEN if c in text], repr(text)
    for literal in ("[/bold]", "[link=", ":skull:", "\\x1b", "\\u202e"):
        if visible(hostile).find(literal) >= 0:
            assert literal in text, (literal, text)


def run(error: str, brand: str = "AZURA") -> RunRecord:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return RunRecord(
        1, brand, "properties", "manual", "failed", now, now, RunCounts(), None, 1.0, error,
        None, None,
    )  # fmt: skip


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_runs_table_shows_hostile_errors_as_text(
    hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    console, buffer = terminal_console()
    monkeypatch.setattr(sync_commands, "out", console)
    sync_commands.print_runs([run(hostile, brand=hostile)])
    assert_inert(buffer.getvalue(), hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_one_line_failures_show_hostile_text_as_text(
    hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    console, buffer = terminal_console()
    monkeypatch.setattr(terminal, "err", console)
    with pytest.raises(terminal.typer.Exit):
        terminal.fail(1, f"error: {hostile}")
    shown = buffer.getvalue()
    assert_inert(shown, hostile)
    assert shown.count("\n") == 1


def test_status_tables_show_hostile_ids_and_whole_reasons(
    monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    for hostile in HOSTILE:
        reason = f"{hostile}\nlistingId: real reason here"
        reject = RejectRow(0.0, "AZURA", "properties", hostile, reason, 1)
        view = StatusView(
            generated_at=0.0,
            generated="00:00",
            holder=None,
            overall=Badge("OK", "ok", ""),
            brands=[],
            leases=[],
            rejects=[reject_view(reject, 0.0)],
            database_error=hostile,
        )
        console, buffer = terminal_console()
        status_commands.print_view(console, view)
        shown = buffer.getvalue()
        assert_inert(shown, hostile)
        assert "real reason here" in shown
    figures.record(
        28,
        "hostile text in terminal output",
        injected="rich markup (unbalanced, links), emoji codes, ESC/OSC sequences, C1 and "
        "bidi controls as run errors, brand names, source ids, reject reasons and database "
        "errors in `runs`, `status` and one-line failures",
        times=3 * len(HOSTILE),
        observed={
            "cases tried": 3 * len(HOSTILE),
            "crashes": 0,
            "control characters, emoji or links reaching the terminal": 0,
            "reject reasons cut to their first line": 0,
        },
    )
