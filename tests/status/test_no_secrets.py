"""No key, secret or issued token in `/`, `/status.json` or `rei-sync status` — plain HTTP,
no browser needed (the browser test checks the rendered page on top)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests

from tests.daemon.conftest import DaemonFactory, wait_for
from tests.status.test_browser import (
    BRANDS,
    assert_no_secret,
    cli_status,
    last_runs_done,
    secrets_in,
)
from worker.sandbox import SandboxServer

pytestmark = pytest.mark.slow

EnvFactory = Callable[..., dict[str, str]]


def test_no_secret_in_the_page_the_json_or_the_cli(
    sandbox: SandboxServer,
    issued_tokens: list[str],
    daemon_env: EnvFactory,
    start_daemon: DaemonFactory,
) -> None:
    env = daemon_env(
        sandbox,
        RUN_AT_START="1",
        SYNC_PROPERTIES_SCHEDULE="1h",
        SYNC_ASSOCIATES_SCHEDULE="1h",
        TOKEN_REFRESH_BUFFER_MINUTES="1",
    )
    daemon = start_daemon(env)
    wait_for(lambda: last_runs_done(daemon), 60, "both brands' properties and associates runs")
    # A refused brand too: its error text is shown, never its keys.
    requests.post(
        f"{sandbox.admin_url}/keys", json={"brand": "AZURA", "revoked": True}, timeout=5
    ).raise_for_status()
    requests.post(
        f"{sandbox.admin_url}/revoke", json={"brand": "AZURA"}, timeout=5
    ).raise_for_status()
    wait_for(lambda: '"FAILED"' in daemon.get("/status.json").text, 30, "AZURA FAILED in the JSON")

    cli_text = cli_status(env)
    cli_json = cli_status(env, "--json")
    assert {b["brand"] for b in json.loads(cli_json)["brands"]} == set(BRANDS)
    assert len(issued_tokens) >= 2
    secrets = secrets_in(sandbox, env, issued_tokens)
    for where, text in (
        ("/", daemon.get("/").text),
        ("/status.json", daemon.get("/status.json").text),
        ("rei-sync status", cli_text),
        ("rei-sync status --json", cli_json),
    ):
        assert_no_secret(text, secrets, where)
    assert daemon.terminate() == 0
