"""The revocation and Retry-After knobs: tokens that die after K requests, key rotation
mid-scan, and `Retry-After` sent as an HTTP-date (on 429, and on 503 when asked)."""

from __future__ import annotations

from email.utils import formatdate, parsedate_to_datetime

import pytest
import requests
from typer.testing import CliRunner

from tests.sandbox.conftest import Admin, Client
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sandbox.responses import DENIED

PAGE = "associates/take/1/skip/0"


def test_the_knobs_are_off_by_default_and_listed(admin: Admin) -> None:
    faults = admin.get("faults")
    assert faults["token_max_requests"] == 0
    assert faults["key_rotation_every_requests"] == 0
    assert faults["retry_after_format"] == "seconds"
    assert faults["retry_after_on_503"] is False


def test_every_token_dies_after_k_authenticated_requests(
    server: SandboxServer, client: Client, admin: Admin
) -> None:
    admin.post("faults", {"token_max_requests": 3})
    first = client.token()
    assert [client.get(PAGE, token=first).status_code for _ in range(3)] == [200] * 3
    refused = client.get(PAGE, token=first)
    assert refused.status_code == 401
    assert refused.json() == {"Message": DENIED}
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert client.get(PAGE, token=first).status_code == 401  # dead for good
    second = client.token_request().json()["access_token"]
    assert [client.get(PAGE, token=second).status_code for _ in range(4)] == [200] * 3 + [401]
    assert server.state.tokens.spent == {"AZURA": 2}  # what a scenario may count on


def test_each_token_counts_its_own_requests(server: SandboxServer, admin: Admin) -> None:
    admin.post("faults", {"token_max_requests": 2})
    azura, blue = Client(server, "AZURA"), Client(server, "BLUE_OCEAN")
    a, b = azura.token(), blue.token()
    assert azura.get(PAGE, token=a).status_code == 200
    assert blue.get(PAGE, token=b).status_code == 200
    assert azura.get(PAGE, token=a).status_code == 200
    assert azura.get(PAGE, token=a).status_code == 401
    assert blue.get(PAGE, token=b).status_code == 200


def test_unauthenticated_requests_do_not_spend_a_token(client: Client, admin: Admin) -> None:
    admin.post("faults", {"token_max_requests": 1})
    token = client.token()
    assert client.get(PAGE, token="not-a-token").status_code == 401
    assert client.get(PAGE, token=token).status_code == 200
    assert client.get(PAGE, token=token).status_code == 401


def test_key_rotation_voids_every_token_issued_so_far(server: SandboxServer, admin: Admin) -> None:
    admin.post("faults", {"key_rotation_every_requests": 3})
    azura, blue = Client(server, "AZURA"), Client(server, "BLUE_OCEAN")
    a, b = azura.token(), blue.token()
    assert azura.get(PAGE, token=a).status_code == 200  # request 1
    assert blue.get(PAGE, token=b).status_code == 200  # request 2
    assert azura.get(PAGE, token=a).status_code == 401  # request 3 rotates the key
    assert blue.get(PAGE, token=b).status_code == 401
    fresh = azura.token_request().json()["access_token"]
    assert azura.get(PAGE, token=fresh).status_code == 200  # request 5
    assert azura.get(PAGE, token=fresh).status_code == 401  # request 6 rotates again
    assert server.state.faults.key_rotations == 2


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_as_an_http_date_from_the_sandbox_clock(
    client: Client, admin: Admin, status: int
) -> None:
    client.token()
    admin.post("clock", {"freeze_at": 1_780_000_000.0})
    knobs = {"retry_after_seconds": 30, "retry_after_format": "http-date"}
    if status == 429:
        knobs["rate_limit_rate"] = 1.0
    else:
        knobs |= {"error_rate": 1.0, "error_statuses": [503], "retry_after_on_503": True}
    admin.post("faults", knobs)
    response = client.get(PAGE)
    assert response.status_code == status
    header = response.headers["Retry-After"]
    assert header == formatdate(1_780_000_030.0, usegmt=True)
    assert parsedate_to_datetime(header).timestamp() == 1_780_000_030.0


def test_503_carries_retry_after_seconds_only_when_asked(client: Client, admin: Admin) -> None:
    client.token()
    admin.post("faults", {"error_rate": 1.0, "error_statuses": [503], "retry_after_seconds": 4})
    assert "Retry-After" not in client.get(PAGE).headers
    admin.post("faults", {"retry_after_on_503": True})
    assert client.get(PAGE).headers["Retry-After"] == "4"


@pytest.mark.parametrize(
    "knobs",
    [
        {"token_max_requests": -1},
        {"key_rotation_every_requests": -2},
        {"retry_after_format": "rfc850"},
        {"retry_after_on_503": "yes"},
    ],
)
def test_bad_values_are_refused(server: SandboxServer, knobs: dict[str, object]) -> None:
    response = requests.post(f"{server.admin_url}/faults", json=knobs, timeout=10)
    assert response.status_code == 400


def test_the_knobs_can_be_set_at_start() -> None:
    config = SandboxConfig(
        token_max_requests=2, retry_after_format="http-date", retry_after_on_503=True
    )
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        client = Client(server)
        token = client.token()
        assert [client.get(PAGE, token=token).status_code for _ in range(3)] == [200, 200, 401]
        faults = Admin(server).get("faults")
    assert faults["retry_after_format"] == "http-date"
    assert faults["retry_after_on_503"] is True
    with pytest.raises(ValueError, match="must not be negative"):
        SandboxConfig(key_rotation_every_requests=-1)


def test_the_cli_documents_and_checks_the_knobs() -> None:
    from worker.cli.app import app

    runner = CliRunner()
    shown = runner.invoke(app, ["sandbox", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    for flag in (
        "--token-max-requests",
        "--key-rotation-every-requests",
        "--retry-after-format",
        "--retry-after-on-503",
    ):
        assert flag in shown.output
    refused = runner.invoke(app, ["sandbox", "--retry-after-format", "rfc850"])
    assert refused.exit_code != 0
