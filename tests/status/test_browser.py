"""The status page in a real headless browser, against a daemon on the sandbox and Postgres.

Debian's chromium driven by Playwright (never `playwright install`). The
daemon runs as a subprocess on a fresh migrated database; the sandbox issues
4-second tokens, so revoking a brand's keys shows as FAILED within seconds.
The same run checks that no key, secret or issued token reaches the rendered page
(`/`, `/status.json` and `rei-sync status` are checked without a browser in
test_no_secrets.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.daemon.conftest import DaemonFactory, DaemonProcess, wait_for
from worker.sandbox import SandboxServer

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BRANDS = ("AZURA", "BLUE_OCEAN")
EnvFactory = Callable[..., dict[str, str]]


def status_json(daemon: DaemonProcess) -> dict[str, Any]:
    return dict(daemon.get("/status.json").json())


def last_runs_done(daemon: DaemonProcess) -> dict[str, Any] | None:
    body = status_json(daemon)
    done = {
        (b["brand"], j["entity"]): j["status"]["label"]
        for b in body["brands"]
        for j in b["jobs"]
        if j["last"] is not None and j["status"]["label"] != "Running"
    }
    wanted = {(b, e) for b in BRANDS for e in ("properties", "associates")}
    return body if wanted <= set(done) else None


def token_label(body: dict[str, Any], brand: str) -> str:
    card = next(b for b in body["brands"] if b["brand"] == brand)
    return str(card["token"]["state"]["label"])


def secrets_in(sandbox: SandboxServer, env: dict[str, str], issued: list[str]) -> list[str]:
    brands = requests.get(f"{sandbox.admin_url}/brands", timeout=5).json()
    keys = [
        brands[b][field] for b in BRANDS for field in ("api_key", "secret_key", "integrator_id")
    ]
    values = [*keys, env["TOKEN_ENCRYPTION_KEY"], *issued]
    return [v for v in values if v] + [v[:16] for v in issued]


def assert_no_secret(text: str, secrets: list[str], where: str) -> None:
    leaked = [s[:6] + "…" for s in secrets if s in text]
    assert not leaked, f"{where} shows secrets starting with {leaked}"


def cli_status(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "worker", "status", *args],
        env={**env, "COLUMNS": "200", "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian chromium is not installed")
def test_status_page_in_a_browser_and_no_secret_anywhere(
    sandbox: SandboxServer,
    issued_tokens: list[str],
    daemon_env: EnvFactory,
    start_daemon: DaemonFactory,
) -> None:
    from playwright.sync_api import Request, sync_playwright

    env = daemon_env(
        sandbox,
        RUN_AT_START="1",
        SYNC_PROPERTIES_SCHEDULE="1h",
        SYNC_ASSOCIATES_SCHEDULE="1h",
        TOKEN_REFRESH_BUFFER_MINUTES="1",
    )
    daemon = start_daemon(env)
    assert urlsplit(daemon.url).hostname == "127.0.0.1"
    wait_for(lambda: last_runs_done(daemon), 60, "both brands' properties and associates runs")

    requested: list[str] = []
    console_errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def on_request(request: Request) -> None:
                requested.append(request.url)

            page.on("request", on_request)
            page.on(
                "console",
                lambda m: console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda exc: console_errors.append(str(exc)))

            response = page.goto(daemon.url + "/")
            assert response is not None
            assert response.status == 200
            assert page.title().startswith("rei-sync status")
            for brand in BRANDS:
                card = page.locator(f'article[aria-labelledby="brand-{brand}"]')
                assert card.count() == 1
                text = card.inner_text()
                assert "properties" in text
                assert "associates" in text
                assert "Succeeded" in text
                assert "FRESH" in text or "STALE" in text
                assert card.locator("svg.spark").count() == 2
            assert page.locator('meta[http-equiv="refresh"]').get_attribute("content") == "30"

            page.set_viewport_size({"width": 360, "height": 800})
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            page.set_viewport_size({"width": 1280, "height": 900})

            # Refuse AZURA's keys and kill its current token: the next renewal is refused.
            for path, payload in (
                ("keys", {"brand": "AZURA", "revoked": True}),
                ("revoke", {"brand": "AZURA"}),
            ):
                requests.post(
                    f"{sandbox.admin_url}/{path}", json=payload, timeout=5
                ).raise_for_status()

            def azura_failed() -> bool:
                page.reload()
                card = page.locator('article[aria-labelledby="brand-AZURA"]')
                return "FAILED" in card.inner_text()

            wait_for(azura_failed, 30, "AZURA shown as FAILED", every=0.5)
            azura = page.locator('article[aria-labelledby="brand-AZURA"]').inner_text()
            assert "the API refused the brand's keys" in azura
            blue = page.locator('article[aria-labelledby="brand-BLUE_OCEAN"]').inner_text()
            assert "FAILED" not in blue
            assert "Failing" in page.locator("header").inner_text()

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "status-page.png"), full_page=True)
            html = page.content()
        finally:
            browser.close()

    assert not console_errors, console_errors
    outside = [
        u for u in requested if urlsplit(u).scheme != "data" and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert requested
    assert not outside, outside

    body = status_json(daemon)
    assert token_label(body, "AZURA") == "FAILED"
    assert token_label(body, "BLUE_OCEAN") in ("FRESH", "STALE")

    cli_text = cli_status(env)
    assert "AZURA" in cli_text
    assert "BLUE_OCEAN" in cli_text
    assert "succeeded" in cli_text.lower()
    cli_json = json.loads(cli_status(env, "--json"))
    assert {b["brand"] for b in cli_json["brands"]} == set(BRANDS)

    stats = requests.get(f"{sandbox.admin_url}/stats", timeout=5).json()
    assert len(issued_tokens) == sum(stats["tokens_issued"].values()) >= 2
    secrets = secrets_in(sandbox, env, issued_tokens)
    # `/`, `/status.json` and the CLI are checked without a browser in test_no_secrets.py.
    assert_no_secret(html, secrets, "the rendered page")
    assert daemon.terminate() == 0
    assert os.path.getsize(ARTIFACTS / "status-page.png") > 10_000
