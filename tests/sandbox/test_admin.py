"""Admin API facts: clock, stats per endpoint, brands, server surface, CLI flags."""

from __future__ import annotations

import socket
import time

import requests
import typer
from typer.testing import CliRunner

from tests.sandbox.conftest import Admin, Client
from worker.cli.sandbox import sandbox_command
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sandbox.server import _is_loopback


def test_clock_offset_advance_freeze_and_unfreeze(admin: Admin) -> None:
    now = admin.get("clock")["now"]
    assert abs(now - time.time()) < 5
    shifted = admin.post("clock", {"offset_seconds": 3600})["now"]
    assert 3590 < shifted - time.time() < 3610
    assert admin.post("clock", {"freeze_at": 1_000.0})["now"] == 1_000.0
    assert admin.post("clock", {"advance_seconds": 10})["now"] == 1_010.0
    assert admin.get("clock")["now"] == 1_010.0
    thawed = admin.post("clock", {"freeze_at": None})
    assert thawed["frozen_at"] is None
    assert 1_009 < thawed["now"] < 1_020


def test_stats_count_per_endpoint_and_status(client: Client, admin: Admin) -> None:
    client.properties(1)
    client.get("GetProperties/take/0/skip/0")
    client.json("associates/take/1/skip/0")
    client.get("GetPropertyDetails/1")
    client.get("nothing/here")
    requests_ = admin.get("stats")["requests"]
    assert requests_["GetProperties"] == {"200": 1, "404": 1}
    assert requests_["associates"] == {"200": 1}
    assert requests_["GetPropertyDetails"] == {"404": 1}
    assert requests_["unmatched"] == {"404": 1}
    assert "stats" not in requests_


def test_unknown_admin_path_is_404(admin: Admin) -> None:
    assert requests.get(f"{admin.url}/nope", timeout=5).status_code == 404


def test_brands_lists_keys_and_sizes(admin: Admin, server: SandboxServer) -> None:
    brands = admin.get("brands")
    assert brands["AZURA"]["api_key"] == server.env_for("AZURA")["REMAX_AZURA_API_KEY"]
    assert brands["AZURA"]["listings"] == 200


def test_server_surface(server: SandboxServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/api/v1")
    assert server.admin_url == server.base_url.removesuffix("/api/v1") + "/_sandbox"
    assert server.brand_keys == ("AZURA", "BLUE_OCEAN")
    env = server.env()
    assert set(env) == {
        f"REMAX_{b}_{p}"
        for b in ("AZURA", "BLUE_OCEAN")
        for p in ("API_URL", "API_KEY", "INTEGRATOR_ID", "SECRET_KEY")
    }


def test_brand_list_is_configurable() -> None:
    with SandboxServer(SandboxConfig(brands=("ONE",))).start() as srv:
        assert srv.brand_keys == ("ONE",)
        assert Client(srv, "ONE").token_request().status_code == 200


def test_env_works_with_the_worker_config() -> None:
    from worker.config import discover_brands

    with SandboxServer(SandboxConfig()).start() as srv:
        brands = discover_brands(srv.env())
        assert [b.key for b in brands] == ["AZURA", "BLUE_OCEAN"]


def test_admin_is_loopback_only() -> None:
    assert _is_loopback("127.0.0.1")
    assert _is_loopback("::1")
    assert not _is_loopback("10.0.0.7")


def test_cli_documents_every_flag() -> None:
    app = typer.Typer()
    app.command("sandbox")(sandbox_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["sandbox", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for flag in (
        "--seed", "--listings", "--associates", "--images-per-listing", "--token-ttl",
        "--max-take", "--host", "--port", "--brand", "--error-rate", "--error-status",
        "--reset-rate", "--stall-rate", "--stall-seconds", "--rate-limit-rate",
        "--retry-after-seconds", "--malformed-rate", "--html-page-rate", "--latency-ms",
        "--latency-jitter-ms", "--token-latency-seconds", "--token-outage-mode",
        "--token-outage-seconds", "--drift", "--drift-inserts", "--fault-seed",
    ):  # fmt: skip
        assert flag in result.output, flag


def test_a_stopped_sandbox_hangs_up_keep_alive_connections() -> None:
    srv = SandboxServer(SandboxConfig()).start()
    client = Client(srv)
    url = f"{srv.base_url}/associates/take/1/skip/0"
    headers = {"Authorization": f"bearer {client.token()}", "Accept": "application/json"}
    assert client.session.get(url, headers=headers, timeout=2).status_code == 200
    srv.stop()
    try:
        client.session.get(url, headers=headers, timeout=2)
    except requests.ConnectionError:
        return
    raise AssertionError("the stopped sandbox still answered")


def test_json_token_requests_are_attributed_and_strangers_counted(
    client: Client, admin: Admin, server: SandboxServer
) -> None:
    client.session.post(f"{server.base_url}/oauth/token", json=client.form(), timeout=5)
    client.token_request(apikey="stranger")
    stats = admin.get("stats")
    assert stats["auth_calls"] == {"AZURA": 1, "BLUE_OCEAN": 0}
    assert stats["auth_calls_unattributed"] == 1


def test_admin_refuses_a_non_loopback_client_over_http() -> None:
    """The real request path: the server's accepted peer address is rewritten to a LAN one."""
    with SandboxServer(SandboxConfig()).start() as srv:
        httpd = srv._httpd
        assert httpd is not None
        accept = httpd.get_request

        def from_the_lan() -> tuple[socket.socket, tuple[str, int]]:
            connection, address = accept()
            return connection, ("203.0.113.9", int(address[1]))

        httpd.get_request = from_the_lan  # type: ignore[method-assign]
        refused = requests.get(f"{srv.admin_url}/stats", timeout=5)
        assert refused.status_code == 403
        assert refused.json() == {"error": "admin API is loopback-only"}
        posted = requests.post(
            f"{srv.admin_url}/keys", json={"brand": "AZURA", "revoked": True}, timeout=5
        )
        assert posted.status_code == 403
        # The API itself still answers that client; and nothing was revoked.
        assert Client(srv, "AZURA").token_request().status_code == 200
        httpd.get_request = accept  # type: ignore[method-assign]
        assert requests.get(f"{srv.admin_url}/stats", timeout=5).status_code == 200
