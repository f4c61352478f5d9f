"""What `rei-sync run` refuses to start with, found in one pass.

`run` raises them all (one line each, exit 2) and `doctor` shows them as its
configuration rows, through this one function: doctor cannot say "ok" for a
setting the daemon would refuse.
"""

from __future__ import annotations

from worker.auth.build import encryption_key, require_shared_store
from worker.auth.crypto import TokenCipher
from worker.config import Settings
from worker.errors import ConfigError
from worker.scheduler import SCHEDULE_SETTINGS, parse_schedule


def daemon_refusals(settings: Settings) -> list[ConfigError]:
    """Every problem the daemon would stop on before its first job: the schedules and
    the shared token store's key (set, and every listed key a valid Fernet key)."""
    problems: list[ConfigError] = []
    for field in SCHEDULE_SETTINGS.values():
        try:
            parse_schedule(field.upper(), str(getattr(settings, field)))
        except ConfigError as exc:
            problems.append(exc)
    try:
        require_shared_store(settings)
        TokenCipher.from_setting(encryption_key(settings))
    except ConfigError as exc:
        problems.append(exc)
    return problems
