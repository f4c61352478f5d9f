"""Every fault knob, set at start or through `/_sandbox/faults`, and its determinism."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox.conftest import Admin, Client
from worker.sandbox import SandboxConfig, SandboxServer, TokenOutage
from worker.sandbox.responses import DENIED

PAGE = "GetProperties/take/5/skip/0"


def test_faults_are_off_by_default_and_listed(admin: Admin) -> None:
    faults = admin.get("faults")
    assert faults["error_rate"] == 0.0
    assert faults["error_statuses"] == [500, 502, 503]
    assert faults["token_outage"] is None
    assert faults["drift"] is False


@pytest.mark.parametrize(
    ("status", "content_type"),
    [(500, "application/json"), (502, "text/html"), (503, "text/html")],
)
def test_error_rate_answers_the_chosen_5xx(
    client: Client, admin: Admin, status: int, content_type: str
) -> None:
    client.token()
    admin.post("faults", {"error_rate": 1.0, "error_statuses": [status]})
    response = client.get(PAGE)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(content_type)
    if status == 500:
        assert response.json() == {"Message": "An error has occurred."}


def test_faults_spare_the_token_endpoint_and_admin(client: Client, admin: Admin) -> None:
    admin.post("faults", {"error_rate": 1.0, "reset_rate": 0.0})
    assert client.token_request().status_code == 200
    assert admin.get("faults")["error_rate"] == 1.0


def test_faults_apply_before_the_token_check(client: Client, admin: Admin) -> None:
    admin.post("faults", {"rate_limit_rate": 1.0})
    assert client.get(PAGE, token="not-a-token").status_code == 429


def test_reset_rate_drops_the_connection(client: Client, admin: Admin) -> None:
    client.token()
    admin.post("faults", {"reset_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        client.get(PAGE)
    assert admin.get("stats")["requests"]["GetProperties"] == {"reset": 1}


def test_stall_outlasts_the_client_timeout(client: Client, admin: Admin) -> None:
    client.token()
    admin.post("faults", {"stall_rate": 1.0, "stall_seconds": 5})
    with pytest.raises(requests.ReadTimeout):
        client.get(PAGE, timeout=0.3)


def test_rate_limit_sends_retry_after(client: Client, admin: Admin) -> None:
    client.token()
    admin.post("faults", {"rate_limit_rate": 1.0, "retry_after_seconds": 7})
    response = client.get(PAGE)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_html_page_is_a_200_that_is_not_json(client: Client, admin: Admin) -> None:
    client.token()
    admin.post("faults", {"html_page_rate": 1.0})
    response = client.get(PAGE)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_malformed_records_break_types_keys_and_ranges(client: Client, admin: Admin) -> None:
    clean = client.properties(50)
    admin.post("faults", {"malformed_rate": 1.0})
    spoiled = client.properties(50)
    assert len(spoiled) == 50
    assert sum("listingId" not in r for r in spoiled) >= 1
    differing = [a for a, b in zip(clean, spoiled, strict=True) if a != b]
    assert 1 <= len(differing) <= 3
    associates = client.json("associates/take/10/skip/0")
    assert any("associateID" not in a for a in associates)


def test_latency_and_jitter(client: Client, admin: Admin) -> None:
    client.token()
    admin.post("faults", {"latency_ms": 200, "latency_jitter_ms": 50})
    started = time.perf_counter()
    assert client.get(PAGE).status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_token_latency(client: Client, admin: Admin) -> None:
    admin.post("faults", {"token_latency_seconds": 0.2})
    started = time.perf_counter()
    assert client.token_request().status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_token_outage_5xx_ends_by_the_sandbox_clock(client: Client, admin: Admin) -> None:
    admin.post("faults", {"token_outage": {"mode": "5xx", "seconds": 60}})
    assert client.token_request().status_code == 503
    admin.post("clock", {"advance_seconds": 59})
    assert client.token_request().status_code == 503
    admin.post("clock", {"advance_seconds": 2})
    assert client.token_request().status_code == 200
    assert admin.get("stats")["auth_calls"]["AZURA"] == 3


def test_token_outage_refuse_drops_connections(client: Client, admin: Admin) -> None:
    admin.post("faults", {"token_outage": {"mode": "refuse", "seconds": 30}})
    with pytest.raises(requests.ConnectionError):
        client.token_request()
    admin.post("faults", {"token_outage": None})
    assert client.token_request().status_code == 200


def test_faults_replay_for_the_same_fault_seed(client: Client, admin: Admin) -> None:
    client.token()

    def run(seed: int) -> list[int]:
        admin.post("faults", {"error_rate": 0.3, "rate_limit_rate": 0.2, "fault_seed": seed})
        return [client.get(PAGE).status_code for _ in range(30)]

    first = run(5)
    assert run(5) == first
    assert run(6) != first
    assert {200, 429} <= set(first)


def test_faults_reset_and_bad_knobs(client: Client, admin: Admin) -> None:
    admin.post("faults", {"error_rate": 1.0})
    assert admin.post("faults/reset")["error_rate"] == 0.0
    assert client.get(PAGE).status_code == 200
    for bad in ({"no_such_knob": 1}, {"error_rate": 2}, {"error_statuses": [404]}):
        response = requests.post(f"{admin.url}/faults", json=bad, timeout=5)
        assert response.status_code == 400


def test_fault_knobs_can_be_set_at_start() -> None:
    config = SandboxConfig(
        error_rate=1.0, error_statuses=(500,), token_outage=TokenOutage("5xx", 10)
    )
    with SandboxServer(config).start() as srv:
        client = Client(srv)
        assert client.token_request().status_code == 503
        Admin(srv).post("clock", {"advance_seconds": 11})
        assert client.get(PAGE).status_code == 500


def test_unauthorised_requests_still_get_401_without_faults(client: Client) -> None:
    response = client.get(PAGE, token="nope")
    assert response.json() == {"Message": DENIED}
