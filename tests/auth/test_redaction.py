"""Rule 9: secrets are scrubbed from every log event, ours and third-party ones."""

from __future__ import annotations

import io
import logging
import secrets

from worker.log import REDACTED, SecretRedactor, configure_logging, get_logger, redactor


def test_registered_values_and_secret_shapes_are_scrubbed() -> None:
    scrubber = SecretRedactor()
    scrubber.register(["my-api-key-123"])
    opaque = secrets.token_urlsafe(200)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl"
    text = (
        f"key my-api-key-123; Authorization: bearer abc.DEF-123; opaque {opaque}; jwt {jwt}; "
        'form apikey=k1&secretkey=s2&integratorID=i3; json {"access_token": "zzz"}'
    )
    scrubbed = scrubber.scrub(text)
    for secret in ("my-api-key-123", "abc.DEF-123", opaque, jwt, "k1", "s2", "i3", "zzz"):
        assert secret not in scrubbed
    assert scrubbed.count(REDACTED) >= 8


def test_short_values_are_not_registered_and_hashes_survive() -> None:
    scrubber = SecretRedactor()
    scrubber.register(["abc"])
    digest = "a" * 64
    assert scrubber.scrub(f"abc {digest}") == f"abc {digest}"


def test_grouped_values_keep_only_the_most_recent() -> None:
    scrubber = SecretRedactor()
    tokens = [f"token-number-{i}" for i in range(6)]
    for value in tokens:
        scrubber.register([value], group="token:AZURA")
    scrubbed = scrubber.scrub(" ".join(tokens))
    assert all(t not in scrubbed for t in tokens[-3:])
    assert tokens[0] in scrubbed


def test_event_fields_named_like_secrets_are_dropped_whole() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    get_logger("test").info("event", token="short", api_key="k", fingerprint="abcd1234")
    line = stream.getvalue()
    assert '"token": "[REDACTED]"' in line
    assert '"api_key": "[REDACTED]"' in line
    assert "abcd1234" in line


def test_third_party_log_lines_and_tracebacks_are_scrubbed() -> None:
    stream = io.StringIO()
    secret = "third-party-" + secrets.token_hex(8)
    configure_logging("DEBUG", "console", secrets=[secret], stream=stream)
    noisy = logging.getLogger("urllib3.connectionpool")
    noisy.warning("retrying POST with apikey=%s", secret)
    try:
        raise RuntimeError(f"boom {secret}")
    except RuntimeError:
        logging.getLogger("apscheduler.executors").exception("job failed")
    output = stream.getvalue()
    assert secret not in output
    assert "retrying POST" in output
    assert "job failed" in output


def test_the_module_redactor_is_shared() -> None:
    value = "shared-" + secrets.token_hex(8)
    redactor.register([value])
    assert value not in redactor.scrub(f"x {value} y")


def test_variable_names_in_prose_are_not_mistaken_for_assignments() -> None:
    from worker.log import redactor

    assert redactor.scrub("TOKEN_ENCRYPTION_KEY is not set") == "TOKEN_ENCRYPTION_KEY is not set"
    assert redactor.scrub("REMAX_AZURA_API_KEY: missing") == "REMAX_AZURA_API_KEY: missing"
    assert redactor.scrub('{"secretkey": "hunter22"}') == '{"secretkey": "[REDACTED]"}'
    assert redactor.scrub("apikey=abc123&x=1") == "apikey=[REDACTED]&x=1"


def test_a_third_party_traceback_is_logged_and_scrubbed() -> None:
    """An APScheduler job that crashes: its traceback reaches the log, its secrets do not."""
    secret = "job-secret-" + secrets.token_hex(8)
    redactor.register([secret])
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)

    def failing_job() -> None:
        raise RuntimeError(f"connection refused for password={secret}")

    try:
        failing_job()
    except RuntimeError:
        logging.getLogger("apscheduler.executors.default").exception('Job "sync" raised')
    text = stream.getvalue()
    assert "Traceback (most recent call last)" in text
    assert "failing_job" in text
    assert "RuntimeError: connection refused" in text
    assert secret not in text


class Headers:
    """Some object that renders its secret only when the renderer calls repr()."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return f"Headers(Authorization=Token {self.token})"


def test_values_rendered_by_the_renderer_are_scrubbed_too() -> None:
    from requests.structures import CaseInsensitiveDict

    secret = "renderer-secret-" + secrets.token_hex(8)
    redactor.register([secret])
    for fmt in ("json", "console"):
        stream = io.StringIO()
        configure_logging("INFO", fmt, stream=stream)
        get_logger("test").info(
            "request.sent",
            headers=Headers(secret),
            seen={secret},
            raw=CaseInsensitiveDict({"X-Key": secret}),
        )
        text = stream.getvalue()
        assert "request.sent" in text
        assert secret not in text, fmt
