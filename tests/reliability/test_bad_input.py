"""Scenario 9: garbage config values and bad bodies (XML and HTML error pages, a truncated
JSON page, a 200 that is not JSON): each a clear classified error, retried where it can help,
nothing half-written; the next clean run converges."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import sqlalchemy as sa
from requests.adapters import HTTPAdapter

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import (
    Figures,
    Reference,
    SandboxFactory,
    WorldFactory,
    auth_calls,
    run_figures,
)
from worker.auth.build import build_token_store
from worker.config import load_settings
from worker.errors import ConfigError

SPOILED_PAGE = "GetProperties/take/20/skip/40"
BODIES: dict[str, tuple[int, str, bytes]] = {
    "xml 500": (
        500,
        "application/xml",
        b"<Error><Message>An error has occurred.</Message></Error>",
    ),
    "html 502": (
        502,
        "text/html",
        b"<html><title>502 Bad Gateway</title><body>nginx</body></html>",
    ),
    "truncated json": (200, "application/json", b'{"result": [{"listingId": 1, "listingKe'),
    "200 not json": (200, "text/plain", b"Service temporarily unavailable, try later"),
}
EXPECTED_ERROR = {
    "xml 500": "HTTP 500 on GetProperties/take/20/skip/40: An error has occurred.",
    "html 502": "HTTP 502 on GetProperties/take/20/skip/40: an HTML page (text/html, ",
    "truncated json": "HTTP 200 but the body is not JSON",
    "200 not json": "HTTP 200 but the body is not JSON",
}


class Spoiler(HTTPAdapter):
    """Answers one page with a canned bad body (after the real request), counting attempts."""

    def __init__(self, body: tuple[int, str, bytes]) -> None:
        super().__init__()
        self.body = body
        self.attempts = 0
        self.active = True

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        if self.active and (request.url or "").endswith(SPOILED_PAGE):
            self.attempts += 1
            status, content_type, body = self.body
            response.status_code = status
            response.headers["Content-Type"] = content_type
            response._content = body
        return response


GARBAGE = [
    ("REI_PAGE_SIZE", "abc"),
    ("REI_PAGE_SIZE", "0"),
    ("REI_READ_TIMEOUT_SECONDS", "-1"),
    ("REI_SYNC_PARALLELISM", "1000"),
    ("LOG_LEVEL", "LOUD"),
    ("LEASE_TTL_SECONDS", "soon"),
    ("SYNC_JITTER_SECONDS", "-5"),
    ("REMAX_AZURA_API_URL", "not a url"),
    ("REMAX_AZURA_API_URL", "ftp://remax-cca.com/api"),
    ("REMAX_AZURA_API_URL", "https://user:pw@remax-cca.com/api"),
    ("REMAX_AZURA_API_KEY", "   "),
    ("REI_BRANDS", "NOPE"),
    ("TOKEN_ENCRYPTION_KEY", "not-a-fernet-key"),
]


def load_and_build(env: dict[str, str]) -> None:
    settings = load_settings(environ=env, env_file=None)
    build_token_store(settings, engine=object())  # type: ignore[arg-type]


def test_bad_bodies_and_garbage_config_are_classified_and_nothing_is_half_written(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger)
    server = make_sandbox()
    config_errors: dict[str, str] = {}
    for variable, value in GARBAGE:
        env = {**server.env(), "DATABASE_URL": "postgresql://u@127.0.0.1/x", variable: value}
        with pytest.raises(ConfigError) as caught:
            load_and_build(env)
        assert caught.value.variable in (variable, "REMAX_AZURA_API_URL"), caught.value
        assert value.strip() == "" or value not in str(caught.value) or variable == "REI_BRANDS"
        config_errors[f"{variable}={value!r}"] = type(caught.value).__name__

    attempts: dict[str, int] = {}
    errors: dict[str, str] = {}
    half_written: dict[str, int] = {}
    runs = []
    world = None
    for name, body in BODIES.items():
        world = make_world(server, db_url=reference.databases.create(), max_attempts=4)
        spoiler = Spoiler(body)
        world.session.mount(server.root_url + "/", spoiler)
        result = world.sync("AZURA", "properties")
        runs.append(result)
        attempts[name] = spoiler.attempts
        errors[name] = result.error or ""
        listed = world.scalar("SELECT count(*) FROM properties")
        status, checkpoint = (
            world.engine.connect()
            .execute(sa.text("SELECT status, checkpoint FROM sync_runs"))
            .one()
        )
        half_written[name] = listed
        assert result.status == "failed", name
        assert EXPECTED_ERROR[name] in (result.error or ""), (name, result.error)
        # every page before the bad one is stored, the checkpoint at it, never part of a page
        assert status == "failed"
        assert checkpoint == 40, checkpoint
        assert listed == checkpoint, (name, listed, checkpoint)
        assert spoiler.attempts == 4, (name, spoiler.attempts)
    assert world is not None
    spoiler.active = False
    converged = world.sync_all()
    got = world.checksum()
    figures.record(
        9,
        "bad input everywhere else",
        injected=f"{len(GARBAGE)} garbage config values; page 3 answered with an XML 500, an "
        "HTML 502, truncated JSON (200) and a 200 text body",
        times=len(GARBAGE) + len(BODIES),
        **run_figures([*runs, *converged]),
        retries=world.retries,
        token_requests=auth_calls(server),
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "config errors": len(config_errors),
            "attempts per bad page": attempts,
            "listings stored (= committed checkpoint) when the run failed": half_written,
            "errors": {k: v[:70] for k, v in errors.items()},
        },
    )
    assert [r.status for r in converged] == ["succeeded"] * len(converged)
    assert got == expected, f"differs in {got.differences(expected)}"
