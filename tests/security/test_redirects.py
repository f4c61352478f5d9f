"""Issue 14, points 1 and 2: no redirect carries the keys or leaves the brand's origin.

A second loopback server records everything it receives: it must receive nothing."""

from __future__ import annotations

import pytest
import requests
from pydantic import SecretStr

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import Figures
from tests.security.hostile import (
    Answer,
    HostileServer,
    Received,
    Route,
    fixed,
    serving,
    token_route,
)
from worker.api.client import ReiClient
from worker.auth.endpoint import HttpTokenRequester
from worker.config import Brand
from worker.errors import ApiError, AuthError
from worker.retry import NO_RETRY

KEYS = {
    "api_key": "apikey-" + "k" * 24,
    "integrator_id": "integ-" + "i" * 24,
    "secret_key": "sec-" + "s" * 24,
}
TOKEN = "bearer-token-" + "t" * 40


def brand_for(server: HostileServer, ledger: SecretLedger) -> Brand:
    ledger.add(*KEYS.values(), TOKEN)
    return Brand(key="AZURA", api_url=server.api_url, **{k: SecretStr(v) for k, v in KEYS.items()})


class _Tokens:
    def get_valid_token(self, brand: str) -> str:
        return TOKEN

    def force_refresh(self, brand: str, rejected: str | None = None) -> str:
        return TOKEN


def redirect_to(url: str, status: int = 302) -> Route:
    def answer(request: Received) -> Answer:
        return Answer(status, b"", {"Location": url})

    return answer


def test_the_token_request_follows_no_redirect(ledger: SecretLedger, figures: Figures) -> None:
    statuses = (301, 302, 303, 307, 308)
    with serving({"/": token_route()}) as second, serving() as api:
        brand = brand_for(api, ledger)
        for status in statuses:
            api.routes["/api/v1/oauth/token"] = redirect_to(
                f"{second.origin}/oauth/token?apikey=stolen-{KEYS['api_key']}", status
            )
            with requests.Session() as session, pytest.raises(AuthError) as caught:
                HttpTokenRequester(session)(brand)
            assert not caught.value.retryable
            message = str(caught.value)
            assert f"HTTP {status}" in message
            assert "stolen" not in message
            assert second.origin not in message
        assert second.received == []
        assert len(api.received) == len(statuses)
    figures.record(
        25,
        "token endpoint redirects to another host",
        injected="oauth/token answers 301/302/303/307/308 with a Location (keys in its query) "
        "on a second loopback server that records every request",
        times=len(statuses),
        observed={
            "cases tried": len(statuses),
            "requests received by the second host": len(second.received),
            "keys or Location in any error": 0,
        },
    )


def test_reads_follow_same_origin_redirects_only(ledger: SecretLedger, figures: Figures) -> None:
    body = b'{"result": [{"listingId": 1}]}'
    with serving({"/": fixed(200, body)}) as second, serving() as api:
        brand = brand_for(api, ledger)
        client = ReiClient(brand, _Tokens(), retry=NO_RETRY)
        cases = 0
        api.routes["/api/v1/moved"] = redirect_to("/api/v1/GetProperties/take/1/skip/0", 307)
        api.routes["/api/v1/GetProperties"] = fixed(200, body)
        assert client.get_json("moved") == {"result": [{"listingId": 1}]}
        moved = [r for r in api.received if r.path.endswith("skip/0")]
        assert moved
        assert moved[0].headers.get("Authorization") == f"bearer {TOKEN}"
        cases += 1
        other_port = f"{second.origin}/api/v1/GetProperties/take/1/skip/0?token=x"
        metrics = f"{second.origin}/metrics"
        other_scheme = api.origin.replace("http://", "https://") + "/api/v1/x"
        other_host = api.origin.replace("127.0.0.1", "localhost") + "/api/v1/x"
        for target in (other_port, metrics, other_scheme, other_host):
            for status in (301, 302, 303, 307, 308):
                api.routes["/api/v1/away"] = redirect_to(target, status)
                with pytest.raises(ApiError) as caught:
                    client.get_json("away")
                assert f"HTTP {status}" in str(caught.value)
                assert "token=x" not in str(caught.value)
                cases += 1
        api.routes["/api/v1/loop"] = redirect_to("/api/v1/loop")
        with pytest.raises(ApiError, match="redirects"):
            client.get_json("loop")
        cases += 1
        loops = sum(1 for r in api.received if r.path == "/api/v1/loop")
        assert loops <= 5
        assert second.received == []
    figures.record(
        26,
        "reads redirected off the brand's origin",
        injected="GetProperties-style reads answered 301/302/303/307/308 to another port "
        "(records, /metrics), another scheme, another host name; a redirect loop; a "
        "same-origin redirect (followed, token kept)",
        times=cases,
        observed={
            "cases tried": cases,
            "requests received by the second host": len(second.received),
            "requests per redirect loop": loops,
        },
    )
