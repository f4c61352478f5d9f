"""A `rei-sync run` subprocess against the sandbox and a fresh migrated database.

The daemon binds port 0; its URL is read from its own `health.listening`
JSON log line. Waiting is always polling with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from worker.alerts import Alerter
from worker.auth import generate_key
from worker.auth.build import build_token_manager
from worker.config import BRAND_VAR, load_settings
from worker.sandbox import SandboxServer
from worker.service import Daemon

Poll = Callable[..., Any]


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        threading.Event().wait(every)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class DaemonProcess:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker", "run"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url: str = wait_for(self._health_url, 30, "the daemon's health.listening line")

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.raw.append(line)
            try:
                self.lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue

    def _health_url(self) -> str | None:
        if self.proc.poll() is not None:
            pytest.fail(f"daemon exited {self.proc.returncode}:\n{''.join(self.raw)[-3000:]}")
        for line in self.lines:
            if line.get("event") == "health.listening":
                return str(line["url"])
        return None

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=5)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == name]

    def terminate(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            tail = "".join(self.raw[-25:])
            pytest.fail(
                f"the daemon did not exit within {timeout}s of SIGTERM; its last lines:\n{tail}"
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


DaemonFactory = Callable[..., DaemonProcess]


@pytest.fixture
def daemon_env(migrated_db_url: str, tmp_path: Path) -> Callable[[SandboxServer], dict[str, str]]:
    key = generate_key()

    def make(sandbox: SandboxServer, **overrides: str) -> dict[str, str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if not BRAND_VAR.match(k) and k not in ("DATABASE_URL", "REI_BRANDS")
        }
        return {
            **base,
            **sandbox.env(),
            "DATABASE_URL": migrated_db_url,
            "TOKEN_ENCRYPTION_KEY": key,
            "REI_SYNC_HOME": str(tmp_path / "home"),
            "HEALTH_BIND": "127.0.0.1",
            "HEALTH_PORT": "0",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "SYNC_JITTER_SECONDS": "0",
            "SYNC_PROPERTIES_SCHEDULE": "off",
            "SYNC_ASSOCIATES_SCHEDULE": "off",
            "SYNC_LOOKUPS_SCHEDULE": "off",
            "SYNC_GEO_SCHEDULE": "off",
            "SYNC_IMAGES_FULL_SCHEDULE": "off",
            "TOKEN_FAILURE_COOLDOWN_SECONDS": "1",
            **overrides,
        }

    return make


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[DaemonFactory]:
    started: list[DaemonProcess] = []

    def start(env: dict[str, str]) -> DaemonProcess:
        daemon = DaemonProcess(env, tmp_path)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()


InProcessFactory = Callable[..., Daemon]


@pytest.fixture
def inprocess_daemon(db_engine: sa.Engine) -> Iterator[InProcessFactory]:
    """A `Daemon` in this process (scheduler not started): tests call its job functions directly."""
    sessions: list[requests.Session] = []
    daemons: list[Daemon] = []

    def make(sandbox: SandboxServer, *, alerter: Alerter | None = None, **env: str) -> Daemon:
        environ = {**sandbox.env(), "SYNC_JITTER_SECONDS": "0", **env}
        settings = load_settings(environ=environ, env_file=None)
        session = requests.Session()
        sessions.append(session)
        tokens = build_token_manager(settings, session=session)
        daemon = Daemon(settings, db_engine, tokens, alerter=alerter)
        daemons.append(daemon)
        return daemon

    yield make
    for daemon in daemons:
        daemon.tokens.close(timeout=5)
    for session in sessions:
        session.close()
