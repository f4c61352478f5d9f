"""`rei-sync demo --serve`: sandbox + embedded Postgres + the real daemon, until Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.daemon.conftest import wait_for

pytestmark = pytest.mark.slow

GRACE_SECONDS = 10.0
DEMO = [sys.executable, "-m", "worker", "demo"]
READYZ_LINE = re.compile(r"readiness at (http://127\.0\.0\.1:\d+/readyz)")
METRICS_LINE = re.compile(r"metrics at (http://127\.0\.0\.1:\d+/metrics)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def traversable(path: Path) -> None:
    """The embedded Postgres runs as its own system user when we are root: let it reach `path`."""
    top = Path(tempfile.gettempdir()).resolve()
    for folder in (path.resolve(), *path.resolve().parents):
        if folder == top or top not in folder.parents:
            break
        folder.chmod(0o755)


def get_ok(url: str) -> requests.Response | None:
    try:
        response = requests.get(url, timeout=5)
    except requests.ConnectionError:
        return None
    return response if response.status_code == 200 else None


def test_demo_serve_runs_the_daemon_until_sigint(tmp_path: Path) -> None:
    traversable(tmp_path)
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REMAX_")
        # no key: `demo --serve` makes an ephemeral one for its embedded database
        and k not in ("DATABASE_URL", "REI_BRANDS", "TOKEN_ENCRYPTION_KEY")
    }
    env.update(
        {
            "REI_SYNC_HOME": str(tmp_path / "home"),
            "HEALTH_PORT": str(port),
            "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
            "COLUMNS": "200",
        }
    )
    proc = subprocess.Popen(
        [*DEMO, "--serve", "--listings", "50", "--associates", "5"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout: list[str] = []
    stderr: list[str] = []
    readers = [
        threading.Thread(target=lambda: stdout.extend(proc.stdout or []), daemon=True),
        threading.Thread(target=lambda: stderr.extend(proc.stderr or []), daemon=True),
    ]
    for reader in readers:
        reader.start()

    def printed(pattern: re.Pattern[str]) -> str | None:
        if proc.poll() is not None:
            pytest.fail(f"demo exited {proc.returncode}:\n{''.join(stderr)[-3000:]}")
        for line in stdout:
            if match := pattern.search(line):
                return match.group(1)
        return None

    try:
        readyz = wait_for(lambda: printed(READYZ_LINE), 120, "the printed /readyz URL")
        metrics = printed(METRICS_LINE)
        assert metrics is not None
        assert f":{port}/" in readyz
        ready = wait_for(lambda: get_ok(readyz), 60, "/readyz to answer 200")
        assert ready.json()["ok"] is True
        scrape = wait_for(lambda: get_ok(metrics), 30, "/metrics to answer 200")
        assert "rei_sync_" in scrape.text
        assert "rei_sync_scheduler_running 1.0" in scrape.text

        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=GRACE_SECONDS + 20)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    for reader in readers:
        reader.join(10)
    assert code == 0, "".join(stderr)[-3000:]
    assert took < GRACE_SECONDS
    text = "".join(stdout)
    assert "sync summary" in text
    with pytest.raises(requests.ConnectionError):
        requests.get(readyz, timeout=2)
