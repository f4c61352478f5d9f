"""`ALERT_WEBHOOK_URL`: Slack-compatible posts to a receiver on 127.0.0.1 started by the test.

Permanent auth failure (the real daemon as a subprocess, keys revoked in the sandbox),
repeated sync failures and a delist-guard trip (the daemon's job function in-process
against the sandbox and Postgres); rate limiting with an injected clock; never a secret
in a payload; a dead webhook never breaks a job or the daemon.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from prometheus_client import REGISTRY

from tests.daemon.conftest import DaemonFactory, InProcessFactory, wait_for
from worker.alerts import Alerter, AlertKind
from worker.sandbox import SandboxConfig, SandboxServer
from worker.service import REPEATED_FAILURES

pytestmark = pytest.mark.slow

EnvFactory = Callable[..., dict[str, str]]
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_\-]{40,}")


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Receiver:
    """A webhook endpoint on 127.0.0.1 recording every JSON body; `status` is what it answers."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.posts.append(
                    {"content_type": self.headers.get("Content-Type"), "body": json.loads(body)}
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def texts(self) -> list[str]:
        return [str(post["body"]["text"]) for post in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def dead_url() -> str:
    """A 127.0.0.1 port nothing listens on: every POST is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return f"http://127.0.0.1:{port}/hook"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=1, listings=50, associates=5), port=0).start() as srv:
        yield srv


def revoke(sandbox: SandboxServer, brand: str) -> None:
    requests.post(
        f"{sandbox.admin_url}/keys", json={"brand": brand, "revoked": True}, timeout=5
    ).raise_for_status()


def assert_slack_shaped_and_clean(receiver: Receiver, secrets: list[str]) -> None:
    assert receiver.posts
    for post in receiver.posts:
        assert post["content_type"] == "application/json"
        assert set(post["body"]) == {"text"}
        assert isinstance(post["body"]["text"], str)
    payloads = json.dumps([post["body"] for post in receiver.posts])
    for secret in secrets:
        assert secret not in payloads
    assert TOKEN_SHAPE.search(payloads) is None


def secret_values(sandbox: SandboxServer, *extra: str) -> list[str]:
    values = [v for k, v in sandbox.env().items() if not k.endswith("_API_URL")]
    return [*values, *extra]


# -- the alerter on its own ---------------------------------------------------------------


def test_rate_limit_per_kind_and_brand_follows_the_injected_clock(receiver: Receiver) -> None:
    clock = FakeClock()
    alerter = Alerter(receiver.url, min_interval_seconds=600, clock=clock)
    assert alerter.send(AlertKind.DELIST_GUARD, "AZURA", "properties guard tripped")
    assert not alerter.send(AlertKind.DELIST_GUARD, "AZURA", "again")
    assert alerter.send(AlertKind.DELIST_GUARD, "BLUE_OCEAN", "other brand")
    assert alerter.send(AlertKind.REPEATED_SYNC_FAILURE, "AZURA", "other kind")
    clock.now += 599
    assert not alerter.send(AlertKind.DELIST_GUARD, "AZURA", "still inside the interval")
    clock.now += 1
    assert alerter.send(AlertKind.DELIST_GUARD, "AZURA", "interval over")
    assert len(receiver.posts) == 4
    assert receiver.texts()[-1].endswith("[AZURA]: interval over")


def test_a_token_shaped_value_in_the_text_is_scrubbed(receiver: Receiver) -> None:
    token = "Ab3_" + "x9Kq-" * 60
    alerter = Alerter(receiver.url, clock=FakeClock())
    assert alerter.send(AlertKind.PERMANENT_AUTH_FAILURE, "AZURA", f"refused token {token}")
    assert_slack_shaped_and_clean(receiver, [token])
    assert "permanent_auth_failure" in receiver.texts()[0]


def test_a_dead_or_failing_webhook_returns_false_and_never_raises(
    receiver: Receiver, dead_url: str
) -> None:
    assert not Alerter(dead_url, clock=FakeClock()).send(AlertKind.DELIST_GUARD, "AZURA", "x")
    receiver.status = 500
    assert not Alerter(receiver.url, clock=FakeClock()).send(AlertKind.DELIST_GUARD, "AZURA", "x")
    assert len(receiver.posts) == 1  # it was tried, and the 500 was swallowed
    assert not Alerter(None).send(AlertKind.DELIST_GUARD, "AZURA", "disabled")


def test_a_failed_post_does_not_use_up_the_rate_limit(receiver: Receiver) -> None:
    clock = FakeClock()
    alerter = Alerter(receiver.url, min_interval_seconds=600, clock=clock)
    receiver.status = 503
    assert not alerter.send(AlertKind.DELIST_GUARD, "AZURA", "first try fails")
    receiver.status = 200
    clock.now += 1
    assert alerter.send(AlertKind.DELIST_GUARD, "AZURA", "retried at once")
    clock.now += 1
    assert not alerter.send(AlertKind.DELIST_GUARD, "AZURA", "now rate-limited")
    assert len(receiver.posts) == 2
    assert receiver.texts()[-1].endswith("[AZURA]: retried at once")


# -- the daemon's job functions in-process ---------------------------------------------------


def failures_gauge(brand: str, entity: str) -> float | None:
    return REGISTRY.get_sample_value(
        "rei_sync_scheduled_consecutive_failures", {"brand": brand, "entity": entity}
    )


def test_repeated_sync_failures_alert_once_then_rate_limited(
    sandbox: SandboxServer, inprocess_daemon: InProcessFactory, receiver: Receiver
) -> None:
    clock = FakeClock()
    daemon = inprocess_daemon(
        sandbox,
        alerter=Alerter(receiver.url, min_interval_seconds=900, clock=clock),
        TOKEN_FAILURE_COOLDOWN_SECONDS="0.01",
    )
    revoke(sandbox, "AZURA")  # every run now fails at the token request
    for attempt in range(1, REPEATED_FAILURES + 2):
        result = daemon.run_sync_job("AZURA", "associates")
        assert result is not None
        assert result.status == "failed"
        assert failures_gauge("AZURA", "associates") == attempt
        expected = 0 if attempt < REPEATED_FAILURES else 1  # the 4th is rate-limited
        assert len(receiver.texts()) == expected, receiver.texts()
    text = receiver.texts()[0]
    assert "repeated_sync_failure" in text
    assert "[AZURA]" in text
    assert f"associates failed {REPEATED_FAILURES} times in a row" in text
    clock.now += 901
    assert daemon.run_sync_job("AZURA", "associates") is not None
    assert len(receiver.posts) == 2
    assert_slack_shaped_and_clean(receiver, secret_values(sandbox))


def test_delist_guard_trip_alerts(
    sandbox: SandboxServer,
    inprocess_daemon: InProcessFactory,
    receiver: Receiver,
    db_engine: sa.Engine,
) -> None:
    daemon = inprocess_daemon(sandbox, alerter=Alerter(receiver.url, clock=FakeClock()))
    first = daemon.run_sync_job("AZURA", "properties")
    assert first is not None
    assert first.status == "succeeded"
    assert receiver.posts == []
    requests.post(
        f"{sandbox.admin_url}/epoch", json={"changed": 0, "removed": 1.0, "added": 0}, timeout=5
    ).raise_for_status()
    tripped = daemon.run_sync_job("AZURA", "properties")
    assert tripped is not None
    assert tripped.status == "delist_guard_tripped"
    assert len(receiver.posts) == 1
    assert "delist_guard" in receiver.texts()[0]
    assert "[AZURA]" in receiver.texts()[0]
    with db_engine.connect() as c:
        live = c.execute(
            sa.text("SELECT count(*) FROM properties WHERE delisted_at IS NULL")
        ).scalar_one()
    assert live == 50
    assert_slack_shaped_and_clean(receiver, secret_values(sandbox))


def test_a_dead_webhook_never_breaks_a_job(
    sandbox: SandboxServer, inprocess_daemon: InProcessFactory, dead_url: str
) -> None:
    daemon = inprocess_daemon(
        sandbox,
        alerter=Alerter(dead_url, min_interval_seconds=0, clock=FakeClock()),
        TOKEN_FAILURE_COOLDOWN_SECONDS="0.01",
    )
    revoke(sandbox, "BLUE_OCEAN")
    for _ in range(REPEATED_FAILURES + 1):  # the 3rd and 4th try to alert, and fail
        result = daemon.run_sync_job("BLUE_OCEAN", "lookups")
        assert result is not None
        assert result.status == "failed"
    assert failures_gauge("BLUE_OCEAN", "lookups") == REPEATED_FAILURES + 1


# -- the daemon as a subprocess --------------------------------------------------------------


def test_daemon_posts_one_alert_for_refused_keys(
    sandbox: SandboxServer,
    daemon_env: EnvFactory,
    start_daemon: DaemonFactory,
    receiver: Receiver,
) -> None:
    revoke(sandbox, "AZURA")
    env = daemon_env(sandbox, ALERT_WEBHOOK_URL=receiver.url, ALERT_MIN_INTERVAL_SECONDS="3600")
    daemon = start_daemon(env)
    wait_for(lambda: receiver.posts, 30, "the permanent auth failure alert")
    # The token job keeps retrying every second; the alert stays rate-limited.
    wait_for(lambda: len(daemon.events("token.keys_refused")) >= 3, 30, "three refusals")
    assert len(receiver.posts) == 1
    text = receiver.texts()[0]
    assert "permanent_auth_failure" in text
    assert "[AZURA]" in text
    assert daemon.get("/healthz").status_code == 200
    assert daemon.terminate() == 0
    assert_slack_shaped_and_clean(receiver, secret_values(sandbox, env["TOKEN_ENCRYPTION_KEY"]))


def test_daemon_with_a_dead_webhook_stays_healthy(
    sandbox: SandboxServer, daemon_env: EnvFactory, start_daemon: DaemonFactory, dead_url: str
) -> None:
    revoke(sandbox, "AZURA")
    daemon = start_daemon(daemon_env(sandbox, ALERT_WEBHOOK_URL=dead_url))
    wait_for(lambda: daemon.events("alert.post_failed"), 30, "the failed alert post")
    assert daemon.get("/healthz").status_code == 200
    assert daemon.terminate() == 0
