"""REI_SYNC_PARALLELISM reaches the daemon's scheduled runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.daemon.conftest import InProcessFactory
from worker import runtime
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sync.engine import RunResult, SyncOptions


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(seed=1, listings=20, associates=5, brands=("AZURA",))
    with SandboxServer(config, host="127.0.0.1", port=0).start() as srv:
        yield srv


def test_scheduled_runs_use_the_configured_parallelism(
    sandbox: SandboxServer, inprocess_daemon: InProcessFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[SyncOptions] = []
    real = runtime.sync_entity

    def spy(*args: Any, options: SyncOptions, **kwargs: Any) -> RunResult:
        seen.append(options)
        return real(*args, options=options, **kwargs)

    monkeypatch.setattr(runtime, "sync_entity", spy)
    daemon = inprocess_daemon(sandbox, REI_SYNC_PARALLELISM="7", REI_PAGE_SIZE="9")
    result = daemon.run_sync_job("AZURA", "associates")
    assert result is not None
    assert result.status == "succeeded"
    assert [(o.parallelism, o.take) for o in seen] == [(7, 9)]
