"""Fixtures of the status page's end-to-end tests: the daemon-subprocess fixtures of
tests/daemon, a sandbox with short-lived tokens, and every token it issues."""

from collections.abc import Iterator

import pytest

from tests.daemon.conftest import daemon_env, start_daemon
from worker.sandbox import SandboxConfig, SandboxServer

__all__ = ["daemon_env", "issued_tokens", "sandbox", "start_daemon"]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(seed=1, listings=50, associates=5, token_ttl=4)
    with SandboxServer(config, port=0).start() as server:
        yield server


@pytest.fixture
def issued_tokens(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every access token the sandbox hands out during the test."""
    issued: list[str] = []
    original = sandbox.state.tokens.issue

    def recording(brand: str) -> str:
        token = original(brand)
        issued.append(token)
        return token

    monkeypatch.setattr(sandbox.state.tokens, "issue", recording)
    return issued
