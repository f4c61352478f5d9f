"""Fixtures for the sandbox contract tests: a fresh sandbox per test, a tiny client for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests

from worker.sandbox import SandboxConfig, SandboxServer

JSON = {"Accept": "application/json"}


class Client:
    """Speaks to one sandbox as one brand, the way the worker will (form token, bearer)."""

    def __init__(self, server: SandboxServer, brand: str = "AZURA") -> None:
        self.server = server
        self.brand = brand
        self.session = requests.Session()
        self._token: str | None = None

    @property
    def env(self) -> dict[str, str]:
        return self.server.env_for(self.brand)

    def form(self, **overrides: str) -> dict[str, str]:
        prefix = f"REMAX_{self.brand}_"
        form = {
            "grant_type": "password",
            "apikey": self.env[prefix + "API_KEY"],
            "secretkey": self.env[prefix + "SECRET_KEY"],
            "integratorID": self.env[prefix + "INTEGRATOR_ID"],
        }
        form.update(overrides)
        return form

    def token_request(self, **overrides: str) -> requests.Response:
        return self.session.post(
            f"{self.server.base_url}/oauth/token", data=self.form(**overrides), headers=JSON
        )

    def token(self) -> str:
        if self._token is None:
            response = self.token_request()
            assert response.status_code == 200, response.text
            self._token = response.json()["access_token"]
        return self._token

    def get(
        self,
        path: str,
        *,
        token: str | None = None,
        accept: str | None = "application/json",
        **kwargs: Any,
    ) -> requests.Response:
        # None removes the Accept header requests would otherwise send ("*/*").
        headers = {"Authorization": f"bearer {token or self.token()}", "Accept": accept}
        return self.session.get(f"{self.server.base_url}/{path}", headers=headers, **kwargs)

    def json(self, path: str) -> Any:
        response = self.get(path)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    def properties(self, take: int = 100, skip: int = 0) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.json(f"GetProperties/take/{take}/skip/{skip}")["result"]
        return result

    def scan(self, take: int = 100) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        skip = 0
        while True:
            page = self.properties(take, skip)
            items.extend(page)
            if len(page) < take:
                return items
            skip += take


class Admin:
    def __init__(self, server: SandboxServer) -> None:
        self.url = server.admin_url
        self.session = requests.Session()

    def get(self, path: str, **params: str) -> Any:
        response = self.session.get(f"{self.url}/{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session.post(f"{self.url}/{path}", json=body or {})
        assert response.status_code == 200, response.text
        return response.json()

    def truth(self, brand: str, entity: str) -> list[Any]:
        response = self.session.get(
            f"{self.url}/truth", params={"brand": brand, "entity": entity}, stream=True
        )
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "application/x-ndjson"
        return [orjson.loads(line) for line in response.iter_lines() if line]


@pytest.fixture
def config() -> SandboxConfig:
    return SandboxConfig()


@pytest.fixture
def server(config: SandboxConfig) -> Iterator[SandboxServer]:
    with SandboxServer(config, host="127.0.0.1", port=0).start() as srv:
        yield srv


@pytest.fixture
def client(server: SandboxServer) -> Client:
    return Client(server)


@pytest.fixture
def admin(server: SandboxServer) -> Admin:
    return Admin(server)
