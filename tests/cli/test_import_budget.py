"""What `rei-sync sync` imports: the sync's code, not every command's (worker/cli/lazy.py).

Each case runs the command in a fresh interpreter and reads its `sys.modules` at the end.
Module names, not times: a machine's speed cannot make these pass or fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from worker.cli.lazy import COMMANDS, load_commands
from worker.sandbox import SandboxConfig, SandboxServer

ROOT = Path(__file__).resolve().parents[2]

NOT_FOR_A_SYNC = (
    "alembic",  # the schema at head is one query (worker/db/revision.py)
    "mako",
    "apscheduler",  # the daemon's
    "worker.service",
    "worker.scheduler",
    "worker.preflight",
    "worker.probes",
    "worker.http_server",
    "worker.status",  # the status page
    "worker.feed",  # the change feed's delivery
    "worker.sandbox",
    "worker.sinks.supabase",  # the REST sink, only with SUPABASE_URL
    "supabase",
    "postgrest",
    "httpx",
    "worker.cli.config",
    "worker.cli.feed",
    "worker.cli.service",
    "worker.cli.status",
    "worker.cli.token",
    "worker.cli.sandbox",
    "rich.progress",  # drawn by `backfill` only
    "cryptography",  # the token store's, with TOKEN_ENCRYPTION_KEY only
    "rich.traceback",  # structlog's console tracebacks: the logs' are plain (worker/log.py)
    "rich.pretty",
    "pygments",
)

SCRIPT = """
import sys
from worker.cli.app import app
code = app(sys.argv[1:], standalone_mode=False)
print("MODULES", code, *sorted(sys.modules))
"""


def imported_by(args: list[str], env: Mapping[str, str] | None = None) -> set[str]:
    """The modules loaded once `rei-sync ARGS` is done (it must succeed)."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **(env or {})},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1].split()
    assert last[:2] == ["MODULES", "0"] or last[:2] == ["MODULES", "None"], result.stdout[-3000:]
    return set(last[2:])


def unwanted(modules: set[str]) -> list[str]:
    return sorted(
        name
        for name in modules
        if any(name == n or name.startswith(f"{n}.") for n in NOT_FOR_A_SYNC)
    )


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=5, listings=60, associates=5), port=0).start() as srv:
        yield srv


def test_sync_help_loads_the_sync_command_alone() -> None:
    modules = imported_by(["sync", "--help"])
    assert "worker.cli.sync" in modules
    assert unwanted(modules) == []


def test_a_sync_on_a_schema_at_head_loads_neither_alembic_nor_other_commands(
    sandbox: SandboxServer, migrated_db_url: str, tmp_path: Path
) -> None:
    env = {
        **sandbox.env(),
        "DATABASE_URL": migrated_db_url,
        "REI_SYNC_HOME": str(tmp_path),
        "TOKEN_ENCRYPTION_KEY": "",
    }
    modules = imported_by(["sync", "--entity", "properties"], env)
    assert "worker.sync.scan" in modules  # it did sync
    assert unwanted(modules) == []


def test_every_listed_command_is_the_one_its_module_registers() -> None:
    registered: dict[str, str] = {}
    for target in sorted(set(COMMANDS.values())):
        for name in load_commands(target):
            registered[name] = target
    assert registered == COMMANDS
