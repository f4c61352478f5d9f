"""`rei-sync sync` and `rei-sync runs` in REST mode: `SUPABASE_URL` + service-role key and no
`DATABASE_URL`. Writes go through the REST sink to the PostgREST *double* (tests/supabase/
postgrest_double.py, backed by the real test Postgres); the local embedded Postgres in
`REI_SYNC_HOME` only holds leases and tokens."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.supabase.postgrest_double import PostgrestDouble
from tests.supabase.test_sink_contract import SERVICE_ROLE_KEY
from worker.cli import app
from worker.db.embedded import stop_embedded_postgres
from worker.sandbox import SandboxConfig, SandboxServer

runner = CliRunner()


@pytest.fixture
def rest_env(
    migrated_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("REMAX_") or name in ("DATABASE_URL", "REI_BRANDS"):
            monkeypatch.delenv(name)
    home = Path(tmp_path / "home")
    tmp_path.chmod(0o755)  # the embedded server runs as its own system user when root
    with (
        SandboxServer(SandboxConfig(seed=5, listings=60, associates=8), port=0).start() as sandbox,
        PostgrestDouble(migrated_db_url, SERVICE_ROLE_KEY) as api,
    ):
        env = {
            **sandbox.env(),
            "SUPABASE_URL": api.url,
            "SUPABASE_SERVICE_ROLE_KEY": SERVICE_ROLE_KEY,
            "REI_SYNC_HOME": str(home),
            "COLUMNS": "200",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        try:
            yield env
        finally:
            stop_embedded_postgres(home)


def test_sync_and_runs_go_through_the_rest_api(
    rest_env: dict[str, str], db_engine: sa.Engine
) -> None:
    result = runner.invoke(app, ["sync", "--brand", "AZURA", "--entity", "properties"])
    assert result.exit_code == 0, result.output
    with db_engine.connect() as c:
        stored = c.execute(sa.text("SELECT count(*) FROM properties WHERE brand = 'AZURA'"))
        assert stored.scalar_one() == 60
        runs = c.execute(sa.text("SELECT status FROM sync_runs")).scalars().all()
        assert runs == ["succeeded"]
    listed = runner.invoke(app, ["runs", "--brand", "AZURA"])
    assert listed.exit_code == 0, listed.output
    assert "properties" in listed.output
    assert "succeeded" in listed.output
    assert SERVICE_ROLE_KEY not in result.output + listed.output
