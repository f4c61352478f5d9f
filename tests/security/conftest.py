"""The security suite: each numbered point of issue 14 replayed against a hostile server
on 127.0.0.1. The leak guard is autouse; figures go through the reliability suite's
`figures` (scenario numbers 25-35), rendered by tests/reliability/report.py."""

from __future__ import annotations

from tests.leak_guard import leak_guard_fixture, ledger_fixture
from tests.reliability.conftest import figures

__all__ = ["figures", "leak_guard_fixture", "ledger_fixture"]
