"""What `rei-sync run` refuses to start with, found in one pass, and `doctor`'s checks.

`run` raises the refusals all (one line each, exit 2) and `doctor` shows them as its
configuration rows, through this one function: doctor cannot say "ok" for a
setting the daemon would refuse. The other checks (database, tokens, API URLs,
clock skew) are `doctor_checks`'.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from worker.auth.build import (
    build_token_manager,
    build_token_store,
    encryption_key,
    require_shared_store,
)
from worker.auth.crypto import TokenCipher
from worker.clock import Clock, system_clock
from worker.config import Settings, is_loopback
from worker.db.migrate import schema_state
from worker.errors import ConfigError, ReiSyncError
from worker.log import redactor
from worker.runtime import open_engine
from worker.scheduler import SCHEDULE_SETTINGS, parse_schedule

MAX_CLOCK_SKEW_SECONDS = 30.0

Row = tuple[str, bool, str]
"""One check: its name, whether it passed, what was found (scrubbed)."""


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


def configuration_rows(problems: Sequence[ConfigError]) -> list[Row]:
    """The configuration problems as failed checks, one row each."""
    return [("configuration", False, redactor.scrub(str(problem))) for problem in problems]


def doctor_checks(settings: Settings, refusals: list[ConfigError]) -> list[Row]:
    """Every check of `doctor`: configuration (`refusals`), database, tokens, API, clocks."""
    rows = configuration_rows(refusals) or [
        ("configuration", True, f"{len(settings.brands)} brand(s)")
    ]
    rows.extend(_doctor_checks(settings))
    return rows


def _doctor_checks(settings: Settings) -> list[Row]:
    rows: list[Row] = []
    with ExitStack() as stack:
        engine: sa.Engine | None = None
        try:
            engine = stack.enter_context(open_engine(settings, check_schema=False))
            state = schema_state(engine)
        except ReiSyncError as exc:
            rows.append(("database", False, redactor.scrub(str(exc))))
            engine = None
        except Exception as exc:
            rows.append(("database", False, f"unreachable: {_where(settings)}: {_one_line(exc)}"))
            engine = None
        else:
            problem = state.problem()
            if problem is None:
                rows.append(("database", True, f"revision {state.current} (head {state.head})"))
            else:
                rows.append(("database", False, problem))
                engine = None  # the shared token store needs the schema: check keys without it
        rows.extend(_token_checks(settings, engine))
    for brand in settings.brands:
        rows.append((f"api url {brand.key}", *_scheme_check(brand.api_url)))
        rows.append((f"clock {brand.key}", *_clock_skew(brand.api_url)))
    return rows


def _where(settings: Settings) -> str:
    """`host:port` of the database (the embedded one: its folder), never the URL."""
    if settings.database_url is None:
        return f"embedded in {settings.rei_sync_home}"
    url = make_url(settings.database_url.get_secret_value())
    host = url.host or str(url.query.get("host", "local socket"))
    return f"{host}:{url.port or 5432}"


def _api_where(api_url: str) -> str:
    url = urlsplit(api_url)
    return f"{url.hostname}:{url.port or (443 if url.scheme == 'https' else 80)}"


def _token_checks(settings: Settings, engine: sa.Engine | None) -> list[Row]:
    """Each brand's token through the shared store, or a memory one without a usable database."""
    rows: list[Row] = []
    with requests.Session() as session:
        try:
            store = build_token_store(settings, engine)
        except ReiSyncError as exc:
            return [("token store", False, redactor.scrub(str(exc)))]
        tokens = build_token_manager(settings, store=store, session=session)
        try:
            for brand in settings.brands:
                where = _api_where(brand.api_url)
                try:
                    tokens.get_valid_token(brand.key)
                    rows.append((f"token {brand.key}", True, f"acquired ({tokens.store_name})"))
                except ReiSyncError as exc:
                    detail = redactor.scrub(f"{exc} ({where})")
                    rows.append((f"token {brand.key}", False, detail))
                except Exception as exc:
                    rows.append((f"token {brand.key}", False, f"{where}: {_one_line(exc)}"))
        finally:
            tokens.close()
    return rows


def _one_line(exc: BaseException) -> str:
    """`Type: first line` of an error (a DBAPI error's own text, not SQLAlchemy's wrapper)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0] if lines else ''}"
    return redactor.scrub(text)[:200]


def _scheme_check(api_url: str) -> tuple[bool, str]:
    """https, or plain http only to a loopback host (the sandbox): keys must not travel in clear."""
    url = urlsplit(api_url)
    shown = f"{url.scheme}://{url.hostname}"
    if url.scheme == "https" or (url.scheme == "http" and is_loopback(url.hostname or "")):
        return True, shown
    return False, f"{shown}: plain http to a non-loopback host sends keys in clear, use https"


def _clock_skew(api_url: str, clock: Clock = system_clock) -> tuple[bool, str]:
    """Local clock against the API's `Date` header (1 s resolution)."""
    try:
        response = requests.head(api_url, timeout=5, allow_redirects=False)
        date = response.headers.get("Date")
        if not date:
            return False, "no Date header"
        skew = parsedate_to_datetime(date).timestamp() - clock()
    except (requests.RequestException, ValueError, TypeError) as exc:
        return False, f"unreachable: {_api_where(api_url)}: {type(exc).__name__}"
    return abs(skew) <= MAX_CLOCK_SKEW_SECONDS, f"skew {skew:+.0f}s"
