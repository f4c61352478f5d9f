"""Rule 5 across real OS processes: four replicas sharing the Postgres store, one auth call."""

from __future__ import annotations

import multiprocessing

from tests.auth.conftest import Sandbox, SecretLedger
from tests.auth.replica import run_replica
from worker.auth.crypto import generate_key

REPLICAS = 4


def test_four_processes_sharing_the_store_make_one_auth_call(
    sandbox: Sandbox, migrated_db_url: str, ledger: SecretLedger
) -> None:
    key = generate_key()
    ledger.add(key)
    # slow enough that all four are inside get_valid_token while the first one holds the lock
    sandbox.admin("faults", {"token_latency_seconds": 0.5})
    context = multiprocessing.get_context("fork")
    start = context.Barrier(REPLICAS)
    results = context.Queue()
    processes = [
        context.Process(
            target=run_replica,
            args=(sandbox.server.env(), migrated_db_url, key, start, results),
        )
        for _ in range(REPLICAS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * REPLICAS
    fingerprints = {results.get(timeout=5) for _ in range(REPLICAS)}
    assert len(fingerprints) == 1
    assert sandbox.auth_calls() == 1
