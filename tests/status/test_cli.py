"""`rei-sync status` on API-controlled text: no rich markup, no emoji codes, first lines only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from worker.config import BRAND_VAR

pytestmark = pytest.mark.slow

SOURCE_ID = "[/]bad[bold] :x: id"
REASON = "field [red]price[/red] :x: refused\nTraceback (most recent call last): second line"
RUN_ERROR = "boom [/] :x:\n  File 'x.py', line 1"


@pytest.fixture
def database(db_engine: sa.Engine, migrated_db_url: str) -> str:
    with db_engine.begin() as c:
        run_id = c.execute(
            sa.text(
                "INSERT INTO sync_runs (brand, entity, mode, status, started_at, finished_at, "
                "error) VALUES ('AZURA', 'properties', 'manual', 'failed', now(), now(), :e) "
                "RETURNING id"
            ),
            {"e": RUN_ERROR},
        ).scalar_one()
        c.execute(
            sa.text(
                "INSERT INTO sync_rejects (run_id, brand, entity, source_id, reason) "
                "VALUES (:run, 'AZURA', 'properties', :sid, :reason)"
            ),
            {"run": run_id, "sid": SOURCE_ID, "reason": REASON},
        )
    return migrated_db_url


def status(database: str, tmp_path: Path, *args: str) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if not BRAND_VAR.match(k) and k not in ("DATABASE_URL", "REI_BRANDS")
    }
    done = subprocess.run(
        [sys.executable, "-m", "worker", "status", *args],
        env={
            **env,
            "DATABASE_URL": database,
            "REI_SYNC_HOME": str(tmp_path / "home"),
            "COLUMNS": "400",
            "LOG_LEVEL": "WARNING",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_status_prints_markup_like_text_verbatim(database: str, tmp_path: Path) -> None:
    out = status(database, tmp_path)
    assert SOURCE_ID in out
    assert "field [red]price[/red] :x: refused" in out
    assert "second line" in out  # a reject reason is shown whole (issue 14, point 8)


def test_status_json_is_written_verbatim(database: str, tmp_path: Path) -> None:
    body = json.loads(status(database, tmp_path, "--json"))
    reject = body["rejects"][0]
    assert reject["source_id"] == SOURCE_ID
    assert reject["reason"] == (  # no emoji; whole, on one line
        "field [red]price[/red] :x: refused Traceback (most recent call last): second line"
    )
    last = body["brands"][0]["jobs"][0]["last"]
    assert last["error"] == "boom [/] :x:"
