"""The token endpoint and bearer checks, as the reference describes the live server."""

from __future__ import annotations

import email.utils

import requests

from tests.sandbox.conftest import JSON, Admin, Client
from worker.sandbox import SandboxServer
from worker.sandbox.responses import DENIED


def test_password_grant_returns_opaque_bearer_token(client: Client) -> None:
    response = client.token_request()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    assert 280 <= len(body["access_token"]) <= 320
    assert "refresh_token" not in body


def test_every_response_carries_a_date_from_the_sandbox_clock(client: Client, admin: Admin) -> None:
    admin.post("clock", {"freeze_at": 1_700_000_000})
    response = client.token_request()
    assert email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp() == 1_700_000_000
    page = client.get("GetProperties/take/1/skip/0")
    assert page.headers["Date"] == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_json_body_is_unsupported_grant_type(client: Client, server: SandboxServer) -> None:
    response = client.session.post(
        f"{server.base_url}/oauth/token", json=client.form(), headers=JSON
    )
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


def test_client_credentials_is_unauthorized_client(client: Client) -> None:
    response = client.token_request(grant_type="client_credentials")
    assert (response.status_code, response.json()) == (400, {"error": "unauthorized_client"})


def test_unknown_grant_is_unsupported(client: Client) -> None:
    response = client.token_request(grant_type="refresh_token")
    assert (response.status_code, response.json()) == (400, {"error": "unsupported_grant_type"})


def test_wrong_keys_are_invalid_grant(client: Client) -> None:
    for field in ("apikey", "secretkey", "integratorID"):
        response = client.token_request(**{field: "nope"})
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "invalid_grant"
        assert body["error_description"]


def test_integrator_id_field_name_is_case_sensitive(client: Client) -> None:
    form = client.form()
    form["integratorId"] = form.pop("integratorID")
    response = client.session.post(f"{client.server.base_url}/oauth/token", data=form)
    assert response.json()["error"] == "invalid_grant"


def test_keys_of_one_brand_do_not_mix_with_another(server: SandboxServer) -> None:
    azura, blue = Client(server, "AZURA"), Client(server, "BLUE_OCEAN")
    response = azura.token_request(secretkey=blue.form()["secretkey"])
    assert response.json()["error"] == "invalid_grant"


def test_api_needs_a_bearer_token(client: Client, server: SandboxServer) -> None:
    for headers in ({}, {"Authorization": "bearer not-a-token"}, {"Authorization": "Basic x"}):
        response = requests.get(
            f"{server.base_url}/GetProperties/take/1/skip/0", headers={**headers, **JSON}, timeout=5
        )
        assert response.status_code == 401
        assert response.json() == {"Message": DENIED}


def test_bearer_scheme_is_case_insensitive(client: Client) -> None:
    token = client.token()
    for scheme in ("bearer", "Bearer", "BEARER"):
        response = client.session.get(
            f"{client.server.base_url}/GetProperties/take/1/skip/0",
            headers={"Authorization": f"{scheme} {token}", **JSON},
        )
        assert response.status_code == 200


def test_token_expires_by_the_sandbox_clock(client: Client, admin: Admin) -> None:
    token = client.token()
    admin.post("clock", {"offset_seconds": 86398})
    assert client.get("GetProperties/take/1/skip/0", token=token).status_code == 200
    admin.post("clock", {"offset_seconds": 86400})
    expired = client.get("GetProperties/take/1/skip/0", token=token)
    assert (expired.status_code, expired.json()) == (401, {"Message": DENIED})


def test_old_tokens_stay_valid_until_their_own_expiry(client: Client, admin: Admin) -> None:
    admin.post("clock", {"freeze_at": 1_000_000})
    first = client.token_request().json()["access_token"]
    admin.post("clock", {"advance_seconds": 50_000})
    second = client.token_request().json()["access_token"]
    assert first != second
    assert client.get("associates/take/1/skip/0", token=first).status_code == 200
    admin.post("clock", {"advance_seconds": 40_000})
    assert client.get("associates/take/1/skip/0", token=first).status_code == 401
    assert client.get("associates/take/1/skip/0", token=second).status_code == 200


def test_token_ttl_is_configurable() -> None:
    from worker.sandbox import SandboxConfig

    with SandboxServer(SandboxConfig(token_ttl=120)).start() as srv:
        assert Client(srv).token_request().json()["expires_in"] == 120


def test_revoke_kills_current_tokens_only(server: SandboxServer, admin: Admin) -> None:
    azura, blue = Client(server, "AZURA"), Client(server, "BLUE_OCEAN")
    old_a, old_b = azura.token(), blue.token()
    assert admin.post("revoke", {"brand": "AZURA"}) == {"revoked": 1}
    assert azura.get("associates/take/1/skip/0", token=old_a).status_code == 401
    assert blue.get("associates/take/1/skip/0", token=old_b).status_code == 200
    fresh = azura.token_request().json()["access_token"]
    assert azura.get("associates/take/1/skip/0", token=fresh).status_code == 200
    admin.post("revoke", {})
    assert blue.get("associates/take/1/skip/0", token=old_b).status_code == 401


def test_revoked_keys_are_invalid_grant_until_restored(client: Client, admin: Admin) -> None:
    admin.post("keys", {"brand": "AZURA", "revoked": True})
    assert client.token_request().json()["error"] == "invalid_grant"
    admin.post("keys", {"brand": "AZURA", "revoked": False})
    assert client.token_request().status_code == 200


def test_stats_count_auth_calls_per_brand_whatever_the_outcome(
    server: SandboxServer, admin: Admin
) -> None:
    azura, blue = Client(server, "AZURA"), Client(server, "BLUE_OCEAN")
    azura.token_request()
    azura.token_request(secretkey="wrong")
    blue.token_request()
    stats = admin.get("stats")
    assert stats["auth_calls"] == {"AZURA": 2, "BLUE_OCEAN": 1}
    assert stats["tokens_issued"] == {"AZURA": 1, "BLUE_OCEAN": 1}
    assert stats["requests"]["oauth/token"] == {"200": 2, "400": 1}
    admin.post("stats/reset")
    assert admin.get("stats")["auth_calls"] == {"AZURA": 0, "BLUE_OCEAN": 0}


def test_keys_and_env_are_deterministic_per_seed() -> None:
    from worker.sandbox import SandboxConfig

    one = SandboxServer(SandboxConfig(seed=3))
    two = SandboxServer(SandboxConfig(seed=3))
    other = SandboxServer(SandboxConfig(seed=4))
    assert one.state.keys == two.state.keys
    assert one.state.keys != other.state.keys
