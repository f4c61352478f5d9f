from __future__ import annotations

import random
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from worker.api.client import MAX_TOKEN_REFRESHES_PER_REQUEST, ReiClient
from worker.api.endpoints import PROPERTIES
from worker.config import Brand
from worker.errors import (
    ApiDecodeError,
    ApiStatusError,
    ApiTransportError,
    AuthError,
    TokenRefusedError,
)
from worker.retry import RetryPolicy
from worker.sandbox import responses as sandbox_responses

BRAND = Brand(
    key="AZURA",
    api_url="http://127.0.0.1:1/api/v1",
    api_key=SecretStr("k"),
    integrator_id=SecretStr("i"),
    secret_key=SecretStr("s"),
)


class Tokens:
    def __init__(self) -> None:
        self.token = "t1"
        self.refreshes = 0
        self.refused: list[str] = []

    def get_valid_token(self, brand: str) -> str:
        return self.token

    def force_refresh(self, brand: str, rejected: str | None = None) -> str:
        self.refreshes += 1
        self.token = f"t{self.refreshes + 1}"
        return self.token

    def mark_refused(self, brand: str, refused: str) -> None:
        self.refused.append(refused)


def response(status: int, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body
    r.headers.update(headers or {"Content-Type": "application/json"})
    return r


class FakeSession(requests.Session):
    """Answers from a script: each entry is a Response or an exception to raise."""

    def __init__(self, script: list[requests.Response | Exception]) -> None:
        super().__init__()
        self.script = script
        self.calls: list[tuple[str, str]] = []
        self.settings: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls.append((str(request.url), str(request.headers["Authorization"])))
        self.settings.append(kwargs)
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client(
    script: list[requests.Response | Exception], **policy: Any
) -> tuple[ReiClient, FakeSession, FakeTime, Tokens]:
    session = FakeSession(script)
    fake = FakeTime()
    tokens = Tokens()
    retry = RetryPolicy(sleep=fake.sleep, clock=fake.clock, rng=random.Random(1), **policy)
    return ReiClient(BRAND, tokens, session=session, retry=retry), session, fake, tokens


OK = b'{"result": [{"listingId": 1}]}'


def test_a_netrc_entry_for_the_api_host_never_replaces_the_bearer_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    c, session, _, _ = client([response(200, OK)])
    c.get_json("GetPropertyDetails/1")
    assert session.calls[0][1].startswith("bearer ")


def test_the_environment_proxy_for_the_api_origin_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read once when the client is made (not per request), still honoured."""
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    c, session, _, _ = client([response(200, OK), response(200, OK)])
    c.get_json("GetPropertyDetails/1")
    c.get_json("GetPropertyDetails/2")
    assert [s["proxies"].get("http") for s in session.settings] == ["http://proxy.example:3128"] * 2


@pytest.mark.parametrize(
    "failure",
    [
        lambda: response(500, b"<html><title>oops</title></html>", {"Content-Type": "text/html"}),
        lambda: response(502, b""),
        lambda: response(503, b'{"Message": "busy"}'),
        lambda: response(504, b"<Error><Message>gateway</Message></Error>"),
        lambda: requests.ConnectionError("reset"),
        lambda: requests.ReadTimeout("slow"),
        lambda: response(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}),
    ],
)
def test_transient_failures_are_retried(failure: Callable[[], Any]) -> None:
    c, session, fake, _ = client([failure(), failure(), response(200, OK)])
    assert c.get_json("GetPropertyDetails/1") == {"result": [{"listingId": 1}]}
    assert len(session.calls) == 3
    assert len(fake.sleeps) == 2


def test_backoff_is_full_jitter_below_an_exponential_ceiling() -> None:
    c, _, fake, _ = client([response(500, b"")] * 5 + [response(200, OK)], base_delay_seconds=1.0)
    c.get_json("x")
    for attempt, slept in enumerate(fake.sleeps, start=1):
        assert 0 <= slept <= 2 ** (attempt - 1)


def test_429_honours_retry_after() -> None:
    c, _, fake, _ = client([response(429, b"", {"Retry-After": "7"}), response(200, OK)])
    c.get_json("x")
    assert fake.sleeps == [7.0]


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    c, session, _, _ = client([response(503, b'{"Message": "down"}')] * 3, max_attempts=3)
    with pytest.raises(ApiStatusError) as info:
        c.get_json("x")
    assert info.value.status == 503
    assert "down" not in info.value.message
    assert len(session.calls) == 3


def test_total_time_cap_stops_retrying() -> None:
    c, session, fake, _ = client(
        [response(429, b"", {"Retry-After": "20"})] * 10,
        total_cap_seconds=50,
        max_delay_seconds=60,
    )
    with pytest.raises(ApiStatusError):
        c.get_json("x")
    assert sum(fake.sleeps) <= 50
    assert len(session.calls) == 3


def test_client_errors_are_not_retried_and_only_the_not_found_shape_means_missing() -> None:
    c, session, _, _ = client(
        [
            response(400, b'{"Message": "bad"}'),
            response(404, b'{"Message": "Property 9 was not found."}'),
            response(404, b"{}"),
        ]
    )
    with pytest.raises(ApiStatusError) as info:
        c.get_json("x")
    assert not info.value.retryable
    assert c.get_json_or_none("GetPropertyDetails/9") is None
    with pytest.raises(ApiStatusError) as info:
        c.get_json_or_none("GetPropertyDetails/9")
    assert info.value.body_kind == "other"
    assert len(session.calls) == 3


def _sandbox_response(made: sandbox_responses.Response) -> requests.Response:
    return response(made.status, made.body, {"Content-Type": made.content_type})


@pytest.mark.parametrize(
    ("made", "kind"),
    [
        (
            sandbox_responses.invalid_parameter(
                "listingId", "9", "It must be an integer.", "application/json"
            ),
            "bad_request",
        ),
        (
            sandbox_responses.no_route("http://x/api/v1/GetPropertyDetails/9", "application/json"),
            "no_route",
        ),
        (
            sandbox_responses.invalid_parameter("listingId", "9", "It must be an integer.", None),
            "bad_request",
        ),
        (sandbox_responses.no_route("http://x/api/v1/GetPropertyDetails/9", None), "no_route"),
        (
            sandbox_responses.Response(
                404,
                b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>",
                sandbox_responses.HTML_TYPE,
            ),
            "html",
        ),
        (sandbox_responses.Response(404, b""), "other"),
        (sandbox_responses.Response(404, b"[]"), "other"),
        (
            sandbox_responses.not_found("Property 10 was not found.", "application/json"),
            "not_found",
        ),
    ],
)
def test_a_404_that_is_not_the_apis_not_found_for_that_id_is_raised(
    made: sandbox_responses.Response, kind: str
) -> None:
    c, _, _, _ = client([_sandbox_response(made)])
    with pytest.raises(ApiStatusError) as info:
        c.get_json_or_none("GetPropertyDetails/9")
    assert info.value.status == 404
    assert info.value.body_kind == kind
    assert not info.value.is_not_found
    assert not info.value.retryable
    if kind == "bad_request" and made.content_type == sandbox_responses.JSON_TYPE:
        assert info.value.model_state == {
            "listingId": ["The value '9' is not valid. It must be an integer."]
        }


@pytest.mark.parametrize("accept", ["application/json", None])
def test_the_apis_not_found_for_that_id_is_none(accept: str | None) -> None:
    made = sandbox_responses.not_found("Property 9 was not found.", accept)
    c, _, _, _ = client([_sandbox_response(made)])
    assert c.get_json_or_none("GetPropertyDetails/9") is None


def test_transport_errors_exhausted_raise_transport_error() -> None:
    c, _, _, _ = client([requests.ConnectionError("x")] * 2, max_attempts=2)
    with pytest.raises(ApiTransportError):
        c.get_json("x")


def test_a_401_is_answered_with_a_newer_token_up_to_the_bound() -> None:
    c, session, _, tokens = client([response(401, b"{}")] * 3 + [response(200, OK)])
    c.get_json("x")
    assert [auth for _, auth in session.calls] == [f"bearer t{n}" for n in range(1, 5)]
    assert tokens.refreshes == MAX_TOKEN_REFRESHES_PER_REQUEST == 3
    assert tokens.refused == []


def test_a_request_refused_past_the_bound_fails_alone_and_marks_its_last_token() -> None:
    c, session, fake, tokens = client([response(401, b"{}")] * 4 + [response(200, OK)])
    with pytest.raises(TokenRefusedError) as info:
        c.get_json("x")
    assert isinstance(info.value, AuthError)
    assert info.value.retryable
    assert info.value.brand == "AZURA"
    assert "4 tokens in a row refused on x" in str(info.value)
    assert len(session.calls) == 4
    assert fake.sleeps == []  # not retried by the backoff: the caller decides
    assert tokens.refused == ["t4"]  # t1..t3 went back through force_refresh


def test_the_refresh_bound_is_a_constructor_argument() -> None:
    session = FakeSession([response(401, b"{}"), response(200, OK)])
    tokens = Tokens()
    c = ReiClient(BRAND, tokens, session=session, max_token_refreshes=0)
    with pytest.raises(TokenRefusedError):
        c.get_json("x")
    assert (len(session.calls), tokens.refreshes, tokens.refused) == (1, 0, ["t1"])
    with pytest.raises(ValueError, match="must not be negative"):
        ReiClient(BRAND, tokens, session=session, max_token_refreshes=-1)


class SameToken(Tokens):
    """A token source that hands back a token the request already sent."""

    def force_refresh(self, brand: str, rejected: str | None = None) -> str:
        self.refreshes += 1
        return "t1" if self.refreshes > 1 else "t2"


def test_a_token_that_is_not_newer_ends_the_request_never_a_loop() -> None:
    session = FakeSession([response(401, b"{}")] * 5)
    tokens = SameToken()
    c = ReiClient(BRAND, tokens, session=session)
    with pytest.raises(TokenRefusedError, match="no newer token"):
        c.get_json("x")
    assert [auth for _, auth in session.calls] == ["bearer t1", "bearer t2"]


def test_a_page_of_the_wrong_shape_is_retried_then_decoded() -> None:
    c, _, _, _ = client([response(200, b'{"Message": "odd"}'), response(200, OK)])
    page = c.fetch_page(PROPERTIES, 100, 0)
    assert page.items == [{"listingId": 1}]
    assert page.is_short
    assert not page.is_last
    c2, _, _, _ = client([response(200, b"[1")] * 2, max_attempts=2)
    with pytest.raises(ApiDecodeError):
        c2.fetch_page(PROPERTIES, 100, 0)


def test_a_retry_after_longer_than_the_longest_wait_gives_up_instead_of_retrying_early() -> None:
    c, session, fake, _ = client(
        [response(429, b"", {"Retry-After": "45"}), response(200, OK)], max_delay_seconds=30
    )
    with pytest.raises(ApiStatusError) as info:
        c.get_json("x")
    assert fake.sleeps == []
    assert len(session.calls) == 1
    assert info.value.retryable
    assert info.value.retry_after == 45.0


def test_a_retry_after_past_the_remaining_budget_gives_up_instead_of_retrying_early() -> None:
    c, session, fake, _ = client(
        [response(503, b"", {"Retry-After": "90"}), response(200, OK)],
        max_delay_seconds=300,
        total_cap_seconds=60,
    )
    with pytest.raises(ApiStatusError) as info:
        c.get_json("x")
    assert fake.sleeps == []
    assert len(session.calls) == 1
    assert info.value.retryable
    assert info.value.retry_after == 90.0


def test_a_retry_after_within_the_limits_is_waited_in_full() -> None:
    c, _, fake, _ = client(
        [response(429, b"", {"Retry-After": "25"}), response(200, OK)], max_delay_seconds=30
    )
    c.get_json("x")
    assert fake.sleeps == [25.0]


def test_a_retry_after_http_date_is_waited_until_that_date() -> None:
    now = 1_780_000_000.0
    date = formatdate(now + 12, usegmt=True)
    session = FakeSession([response(503, b"", {"Retry-After": date}), response(200, OK)])
    fake = FakeTime()
    retry = RetryPolicy(sleep=fake.sleep, clock=fake.clock, rng=random.Random(1))
    c = ReiClient(BRAND, Tokens(), session=session, retry=retry, clock=lambda: now)
    c.get_json("x")
    assert fake.sleeps == [12.0]


def test_a_retry_after_http_date_in_the_past_allows_a_retry_at_once() -> None:
    now = 1_780_000_000.0
    date = formatdate(now - 5, usegmt=True)
    session = FakeSession([response(429, b"", {"Retry-After": date})])
    retry = RetryPolicy(max_attempts=1)
    c = ReiClient(BRAND, Tokens(), session=session, retry=retry, clock=lambda: now)
    with pytest.raises(ApiStatusError) as info:
        c.get_json("x")
    assert info.value.retry_after == 0.0
