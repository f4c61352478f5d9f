"""`rei-sync sync`, `runs` and `status` in REST mode: `SUPABASE_URL` + service-role key and
no `DATABASE_URL`. Writes go through the REST sink to the PostgREST *double* (tests/supabase/
postgrest_double.py, backed by the real test Postgres); the local embedded Postgres in
`REI_SYNC_HOME` only holds leases and tokens, so the status shows runs and rejects read back
through the REST API."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.supabase.postgrest_double import PostgrestDouble
from tests.supabase.test_sink_contract import SERVICE_ROLE_KEY
from worker.cli.app import app
from worker.db.embedded import stop_embedded_postgres
from worker.sandbox import SandboxConfig, SandboxServer

runner = CliRunner()


SANDBOX = SandboxConfig(seed=5, listings=60, associates=8)


@pytest.fixture
def rest_env(
    request: pytest.FixtureRequest,
    migrated_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """The environment of REST mode; `indirect` parametrisation may pass a `SandboxConfig`."""
    config: SandboxConfig = getattr(request, "param", SANDBOX)
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("REMAX_") or name in ("DATABASE_URL", "REI_BRANDS"):
            monkeypatch.delenv(name)
    home = Path(tmp_path / "home")
    tmp_path.chmod(0o755)  # the embedded server runs as its own system user when root
    with (
        SandboxServer(config, port=0).start() as sandbox,
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


@pytest.mark.parametrize(
    "rest_env",
    [SandboxConfig(seed=5, listings=60, associates=8, malformed_rate=1.0)],
    indirect=True,
)
def test_status_shows_runs_and_rejects_kept_in_supabase(
    rest_env: dict[str, str], db_engine: sa.Engine
) -> None:
    synced = runner.invoke(app, ["sync", "--brand", "AZURA", "--entity", "properties"])
    assert synced.exit_code == 0, synced.output
    with db_engine.connect() as c:  # the double's database: what Supabase holds
        run_id, status = c.execute(sa.text("SELECT id, status FROM sync_runs")).one()
        stored = c.execute(
            sa.text("SELECT brand, entity, run_id, reason FROM sync_rejects ORDER BY id DESC")
        ).all()
    assert status == "succeeded_with_rejects"
    assert stored

    shown = runner.invoke(app, ["status", "--json"])
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["database_error"] is None
    azura = next(b for b in body["brands"] if b["brand"] == "AZURA")
    job = next(j for j in azura["jobs"] if j["entity"] == "properties")
    assert job["last"]["id"] == run_id
    assert job["status"]["label"] == "Succeeded with rejects"
    assert job["last"]["counts"]["rejected"] == len(stored)
    assert [p["status"] for p in job["history"]] == ["succeeded_with_rejects"]
    shown_rejects = [(r["brand"], r["entity"], r["run_id"], r["reason"]) for r in body["rejects"]]
    assert shown_rejects == [tuple(r) for r in stored[:20]]
    assert body["leases"] == []

    table = runner.invoke(app, ["status"])
    assert table.exit_code == 0, table.output
    assert "Succeeded with rejects" in table.output
    assert "Latest rejects" in table.output
    secrets = [SERVICE_ROLE_KEY] + [
        v for k, v in rest_env.items() if k.endswith(("_API_KEY", "_SECRET_KEY", "_INTEGRATOR_ID"))
    ]
    for output in (shown.output, table.output):
        leaked = [s[:6] + "…" for s in secrets if s in output]
        assert not leaked, f"rei-sync status shows secrets starting with {leaked}"
