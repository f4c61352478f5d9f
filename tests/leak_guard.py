"""The suite-wide secret leak guard, shared by tests/auth and tests/reliability.

A `SecretLedger` collects every secret a test handed out (API keys, secret keys,
integrator ids, encryption keys, service-role keys) or saw issued (every token a
sandbox handed out, via `watch_sandbox`). The `leak_guard` fixture checks, at the
end of each test: the rendered log output, the records pytest captured, the text
of every rei-sync error created, any CLI/daemon output the test added with
`ledger.output(...)`, and this process's Prometheus metrics page.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from typing import Any

import prometheus_client
import pytest

from worker import errors
from worker.log import configure_logging
from worker.sandbox import SandboxServer


class SecretLedger:
    """Every secret a test handed out or was issued; checked against logs and errors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: set[str] = set()
        self.error_texts: list[str] = []
        self.outputs: list[tuple[str, str]] = []

    def add(self, *values: str) -> None:
        with self._lock:
            self.values.update(v for v in values if v)

    def output(self, where: str, text: str) -> None:
        """Something an operator would see (CLI output, a daemon's log, a metrics page)."""
        with self._lock:
            self.outputs.append((where, text))

    def leaks(self, text: str) -> list[str]:
        with self._lock:
            values = list(self.values)
        return [v for v in values if v in text]

    def assert_clean(self, text: str, where: str) -> None:
        found = self.leaks(text)
        assert not found, f"{len(found)} secret value(s) leaked into {where}"


def watch_sandbox(server: SandboxServer, ledger: SecretLedger) -> SandboxServer:
    """Put the sandbox's brand keys and every token it will issue into the ledger."""
    ledger.add(*(v for k, v in server.env().items() if not k.endswith("_API_URL")))
    issuer = server.state.tokens
    original = issuer.issue

    def issue(brand: str) -> str:
        token = original(brand)
        ledger.add(token)
        return token

    issuer.issue = issue  # type: ignore[method-assign]
    return server


@pytest.fixture(name="ledger")
def ledger_fixture() -> SecretLedger:
    return SecretLedger()


@pytest.fixture(name="leak_guard", autouse=True)
def leak_guard_fixture(
    ledger: SecretLedger, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[io.StringIO]:
    """What an operator would see (rendered logs), what was handed to logging (caplog), every
    rei-sync error message created during the test, recorded outputs and the metrics page hold
    no secret."""
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    original_init = errors.ReiSyncError.__init__

    def recording_init(self: errors.ReiSyncError, *args: Any) -> None:
        original_init(self, *args)
        ledger.error_texts.append(f"{self!s} {self!r}")

    monkeypatch.setattr(errors.ReiSyncError, "__init__", recording_init)
    formatter = logging.getLogger().handlers[0].formatter
    assert formatter is not None
    caplog.set_level("DEBUG")
    yield stream
    ledger.assert_clean(stream.getvalue(), "rendered log output")
    # The test's own records (not only teardown's), rendered as an operator would see them,
    # and as pytest's plain formatter shows them.
    for record in caplog.get_records("call"):
        ledger.assert_clean(formatter.format(record), "a captured log record")
        ledger.assert_clean(record.getMessage(), "a captured log record's message")
    ledger.assert_clean(caplog.text, "captured log records")
    for text in ledger.error_texts:
        ledger.assert_clean(text, "an exception message")
    for where, text in ledger.outputs:
        ledger.assert_clean(text, where)
    metrics = prometheus_client.generate_latest(prometheus_client.REGISTRY).decode()
    ledger.assert_clean(metrics, "the metrics page")
