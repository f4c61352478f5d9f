"""tests/daemon's daemon-subprocess fixtures, shared with the status page's end-to-end test."""

from tests.daemon.conftest import daemon_env, start_daemon

__all__ = ["daemon_env", "start_daemon"]
