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


def test_each_brands_proxy_and_the_ca_bundle_are_read_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "bypassed.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    with requests.Session() as session:
        ReiClient(brand("https://api.example/v1"), Tokens(), session=session)
        ReiClient(brand("https://other.example/v1"), Tokens(), session=session)
        ReiClient(brand("https://bypassed.example/v1"), Tokens(), session=session)
        assert session.proxies == {
            "https://api.example": "http://proxy.example:3128",
            "https://other.example": "http://proxy.example:3128",
        }
        assert session.verify == "/etc/ssl/bundle.pem"
        assert session.trust_env is False
        scans: list[object] = []
        monkeypatch.setattr(requests.utils, "get_environ_proxies", lambda *a, **k: scans.append(a))
        settings = session.merge_environment_settings(
            "https://api.example/v1/x", {}, None, None, None
        )
        assert scans == []
        assert settings["proxies"]["https://api.example"] == "http://proxy.example:3128"


def test_a_session_whose_owner_turned_the_environment_off_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    with requests.Session() as session:
        session.trust_env = False
        ReiClient(brand("https://api.example/v1"), Tokens(), session=session)
        assert session.proxies == {}
