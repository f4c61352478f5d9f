"""`rei-sync backfill` and `rei-sync runs` in-process (CliRunner) against sandbox + Postgres."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from tests.sync.conftest import BRAND, LISTINGS, TAKE, Harness
from tests.sync.truth import assert_matches_truth
from worker.cli import sync as commands
from worker.cli.app import app
from worker.sandbox import SandboxServer
from worker.sync.engine import Progress, SyncOptions, sync_entity

runner = CliRunner()
PAGES = -(-LISTINGS // TAKE) + 1
"""Pages with records, then the empty page that proves the end of the list."""


@pytest.fixture
def cli_env(
    sandbox: SandboxServer, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """The sandbox's brand and the test database only; no developer `.env`; wide tables."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("REMAX_") or name in ("DATABASE_URL", "REI_BRANDS", "LOG_FORMAT"):
            monkeypatch.delenv(name)
    for name, value in {
        **sandbox.env(),
        "DATABASE_URL": migrated_db_url,
        "REI_PAGE_SIZE": str(TAKE),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(commands, "out", Console(width=250))
    handlers = logging.getLogger().handlers[:]
    yield
    logging.getLogger().handlers[:] = handlers  # the CLI pointed logging at the runner's stderr


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table: cells of lines whose first cell is a run id."""
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)][1:-1]
        if cells and cells[0].isdigit():
            rows.append(cells)
    return rows


def test_backfill_without_a_terminal_logs_plain_progress_lines(
    cli_env: None, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "PLAIN_PROGRESS_EVERY_SECONDS", 0.0)
    result = invoke("backfill", "--brand", BRAND.lower(), "--entity", "properties")
    assert result.exit_code == 0, result.output
    events = [orjson.loads(line) for line in result.stderr.splitlines() if line.strip()]
    progress = [e for e in events if e["event"] == "sync.progress"]
    assert len(progress) == PAGES
    assert [p["pages"] for p in progress] == list(range(1, PAGES + 1))
    assert progress[-1]["rows"] == LISTINGS
    assert {(p["brand"], p["entity"]) for p in progress} == {(BRAND, "properties")}
    assert f"{BRAND}/properties pages" not in result.output  # no rich bars without a terminal
    (row,) = table_rows(result.stdout)
    assert row[1:4] == [BRAND, "properties", "succeeded"]
    assert h_runs(harness) == [("properties", "backfill", "succeeded")]
    assert_matches_truth(harness, "properties")


def h_runs(h: Harness) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in h.query("SELECT entity, mode, status FROM sync_runs ORDER BY id")]


@pytest.mark.parametrize(
    ("make_run", "says"),
    [
        (None, "no sync run"),
        (
            "INSERT INTO sync_runs (brand, entity, mode, status) "
            "VALUES ('BLUE_OCEAN', 'properties', 'manual', 'aborted') RETURNING id",
            "BLUE_OCEAN",
        ),
        (
            "INSERT INTO sync_runs (brand, entity, mode, status) "
            "VALUES ('AZURA', 'lookups', 'manual', 'aborted') RETURNING id",
            "catalogues",
        ),
    ],
    ids=["missing", "other-brand", "catalogue"],
)
def test_backfill_resume_of_a_run_it_cannot_continue_exits_2_with_one_line(
    cli_env: None, harness: Harness, make_run: str | None, says: str
) -> None:
    run_id = 4242
    if make_run is not None:
        with harness.engine.begin() as connection:
            run_id = int(connection.exec_driver_sql(make_run).scalar_one())
    before = harness.scalar("SELECT count(*) FROM sync_runs")
    result = invoke("backfill", "--brand", BRAND, "--resume", str(run_id))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("config error: --resume:")
    assert says in lines[0]
    assert str(run_id) in lines[0]
    assert harness.scalar("SELECT count(*) FROM sync_runs") == before
    assert harness.scalar("SELECT count(*) FROM properties") == 0


def test_backfill_resume_continues_an_aborted_image_sweep(cli_env: None, harness: Harness) -> None:
    h = harness
    assert h.sync("properties").status == "succeeded"
    h.execute("DELETE FROM property_images")
    stop = threading.Event()

    def stop_now(_: Progress) -> None:
        stop.set()

    aborted = sync_entity(
        h.client, h.store, "images", options=SyncOptions(take=TAKE), stop=stop, on_progress=stop_now
    )
    assert aborted.status == "aborted"
    result = invoke("backfill", "--brand", BRAND, "--resume", str(aborted.run_id))
    assert result.exit_code == 0, result.output
    (row,) = table_rows(result.stdout)
    assert row[1:4] == [BRAND, "images", "succeeded"]
    assert int(row[5]) == LISTINGS - TAKE  # seen: only the listings after the checkpoint
    assert_matches_truth(h, "images")


def test_runs_lists_the_latest_runs_newest_first_with_brand_and_limit(
    cli_env: None, harness: Harness
) -> None:
    h = harness
    for entity in ("lookups", "geo", "associates"):
        assert h.sync(entity).status == "succeeded"
    h.execute(
        "INSERT INTO sync_runs (brand, entity, mode, status) "
        "VALUES ('BLUE_OCEAN', 'associates', 'scheduled', 'failed')"
    )
    ids = [r[0] for r in h.query("SELECT id FROM sync_runs ORDER BY id DESC")]

    everything = invoke("runs")
    assert everything.exit_code == 0, everything.output
    rows = table_rows(everything.stdout)
    assert [int(r[0]) for r in rows] == ids
    assert [(r[1], r[2], r[4]) for r in rows] == [
        ("BLUE_OCEAN", "associates", "failed"),
        (BRAND, "associates", "succeeded"),
        (BRAND, "geo", "succeeded"),
        (BRAND, "lookups", "succeeded"),
    ]

    azura = table_rows(invoke("runs", "--brand", BRAND.lower()).stdout)
    assert [int(r[0]) for r in azura] == ids[1:]
    assert {r[1] for r in azura} == {BRAND}

    latest = table_rows(invoke("runs", "--limit", "2").stdout)
    assert [int(r[0]) for r in latest] == ids[:2]

    assert invoke("runs", "--limit", "0").exit_code == 2
