"""What `ReiClient` does to its session: a pool as wide as asked, the environment read once."""

from __future__ import annotations

import pytest
import requests
from pydantic import SecretStr

from worker.api.client import POOL_CONNECTIONS, ReiClient
from worker.config import Brand


def brand(url: str) -> Brand:
    return Brand(
        key="AZURA",
        api_url=url,
        api_key=SecretStr("k"),
        integrator_id=SecretStr("i"),
        secret_key=SecretStr("s"),
    )


class Tokens:
    def get_valid_token(self, brand: str) -> str:
        return "t"

    def force_refresh(self, brand: str, rejected: str | None = None) -> str:
        return "t"

    def mark_refused(self, brand: str, refused: str) -> None:
        return


def pool_size(session: requests.Session, url: str) -> int:
    return int(session.get_adapter(url)._pool_maxsize)  # type: ignore[attr-defined]


def test_the_pool_is_at_least_the_default_and_as_wide_as_asked() -> None:
    with requests.Session() as session:
        ReiClient(brand("http://127.0.0.1:1/api"), Tokens(), session=session)
        assert pool_size(session, "http://127.0.0.1:1/api") == POOL_CONNECTIONS
        ReiClient(brand("http://127.0.0.1:1/api"), Tokens(), session=session, pool_connections=68)
        assert pool_size(session, "http://127.0.0.1:1/api") == 68


class Recording(requests.Session):
    """Answers 200 `[]` to every request and keeps the settings each was sent with."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict[str, object]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:  # type: ignore[override]
        self.sent.append((str(request.url), kwargs))
        response = requests.Response()
        response.status_code = 200
        response._content = b"[]"
        return response


def test_each_brands_proxy_and_the_ca_bundle_are_read_once_and_the_session_is_untouched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "bypassed.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    with Recording() as session:
        clients = [
            ReiClient(brand(f"https://{host}/v1"), Tokens(), session=session)
            for host in ("api.example", "bypassed.example")
        ]
        scans: list[object] = []
        monkeypatch.setattr(requests.utils, "get_environ_proxies", lambda *a, **k: scans.append(a))
        for client in clients:
            client.get_json("x")
            client.get_json("y")
        assert scans == []
        proxies = [settings["proxies"] for _, settings in session.sent]
        assert [p.get("https") for p in proxies] == ["http://proxy.example:3128"] * 2 + [None] * 2
        assert {settings["verify"] for _, settings in session.sent} == {"/etc/ssl/bundle.pem"}
        assert session.trust_env is True
        assert session.proxies == {}
