"""`rei-sync runs --json` and `rei-sync runs show RUN_ID`, in-process against a real database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from worker.cli.app import app

runner = CliRunner()
LONG_REASON = "field listPrice: value 1e30 does not fit numeric(14, 2); " + "and more detail " * 12


@pytest.fixture
def runs(db_engine: sa.Engine, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch,
         tmp_path: Path) -> tuple[int, int]:  # fmt: skip
    """Two runs: one that succeeded with two rejects, one that failed; (ok id, failed id)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("REMAX_", "DATABASE_", "REI_", "SUPABASE_", "COLUMNS")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", migrated_db_url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    with db_engine.begin() as c:
        ok = c.execute(
            sa.text(
                "INSERT INTO sync_runs (brand, entity, mode, status, started_at, finished_at, "
                "duration_seconds, pages, seen, inserted, rejected, checkpoint) VALUES "
                "('BLUE_OCEAN', 'properties', 'scheduled', 'succeeded_with_rejects', "
                "now() - interval '1 minute', now(), 12.5, 3, 250, 248, 2, 300) RETURNING id"
            )
        ).scalar_one()
        for source_id, reason in (("101", LONG_REASON), ("102", "listingId is missing")):
            c.execute(
                sa.text(
                    "INSERT INTO sync_rejects (run_id, brand, entity, source_id, reason) "
                    "VALUES (:run, 'BLUE_OCEAN', 'properties', :sid, :reason)"
                ),
                {"run": ok, "sid": source_id, "reason": reason},
            )
        failed = c.execute(
            sa.text(
                "INSERT INTO sync_runs (brand, entity, mode, status, started_at, finished_at, "
                "error) VALUES ('AZURA', 'associates', 'manual', 'failed', now(), now(), "
                "'HTTP 503 on associates/take/100/skip/0: Service Unavailable') RETURNING id"
            )
        ).scalar_one()
    return int(ok), int(failed)


def test_runs_json_lists_every_run_with_counts_and_timing(runs: tuple[int, int]) -> None:
    ok, failed = runs
    result = runner.invoke(app, ["runs", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [r["id"] for r in body] == [failed, ok]
    first = body[1]
    assert first["brand"] == "BLUE_OCEAN"
    assert first["status"] == "succeeded_with_rejects"
    assert first["counts"]["seen"] == 250
    assert first["counts"]["rejected"] == 2
    assert first["checkpoint"] == 300
    assert first["duration_seconds"] == 12.5
    assert first["started_at"] < first["finished_at"]
    assert body[0]["error"].startswith("HTTP 503")


def test_runs_show_gives_one_run_and_its_rejects_with_reasons(runs: tuple[int, int]) -> None:
    ok, _ = runs
    result = runner.invoke(app, ["runs", "show", str(ok), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["id"] == ok
    assert body["counts"]["inserted"] == 248
    assert {(r["source_id"], r["reason"]) for r in body["rejects"]} == {
        ("101", LONG_REASON),
        ("102", "listingId is missing"),
    }
    assert all("payload" not in r for r in body["rejects"])


def test_runs_show_as_text_to_a_pipe_is_not_cut(runs: tuple[int, int]) -> None:
    ok, _ = runs
    result = runner.invoke(app, ["runs", "show", str(ok)])
    assert result.exit_code == 0, result.output
    assert "succeeded_with_rejects" in result.stdout
    assert LONG_REASON in result.stdout
    assert "BLUE_OCEAN / properties" in result.stdout
    assert "300" in result.stdout  # the checkpoint


def test_runs_table_to_a_pipe_keeps_every_cell_whole(runs: tuple[int, int]) -> None:
    result = runner.invoke(app, ["runs"])
    assert result.exit_code == 0, result.output
    for whole in ("BLUE_OCEAN", "succeeded_with_rejects", "properties", "associates"):
        assert whole in result.stdout
    assert "…" not in result.stdout


def test_runs_show_of_an_unknown_run_is_one_line(runs: tuple[int, int]) -> None:
    result = runner.invoke(app, ["runs", "show", "987654"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["error: no sync run 987654"]


def test_help_shows_boolean_options_as_flags() -> None:
    for command in (["sync"], ["runs"], ["demo"], ["status"], ["doctor"], ["run"]):
        text = runner.invoke(app, [*command, "--help"]).output
        assert "<bool>" not in text, text
        assert "BOOLEAN" not in text, text
