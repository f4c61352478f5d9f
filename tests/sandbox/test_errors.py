"""Error statuses and bodies the way the vendor's ASP.NET Web API gives them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests

from tests.sandbox.conftest import JSON, Client
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sandbox.responses import DENIED, INVALID


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("GetProperties/take/abc/skip/0", "take"),
        ("GetProperties/take/0/skip/0", "take"),
        ("GetProperties/take/1001/skip/0", "take"),
        ("GetProperties/take/10/skip/-1", "skip"),
        ("GetProperties/take/10/skip/x", "skip"),
        ("associates/take/-5/skip/0", "take"),
    ],
)
def test_bad_take_or_skip_is_404_with_model_state(client: Client, path: str, param: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    body = response.json()
    assert body["Message"] == INVALID
    assert list(body["ModelState"]) == [param]


def test_max_take_is_configurable() -> None:
    with SandboxServer(SandboxConfig(max_take=50)).start() as srv:
        client = Client(srv)
        assert client.get("GetProperties/take/50/skip/0").status_code == 200
        assert client.get("GetProperties/take/51/skip/0").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "GetPropertyDetails/1",
        "associates/1",
        "propertyimages/1",
        "propertyimagesdetails/1/1",
        "lookups/detailsbyid/999",
        "geo/countries/1/StateProvincesInaCountry",
    ],
)
def test_unknown_ids_are_404_with_a_message(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["Message"]


def test_unknown_photo_of_a_known_listing_is_404(client: Client) -> None:
    listing = client.properties(1)[0]["listingId"]
    assert client.get(f"propertyimagesdetails/{listing}/1").status_code == 404


def test_unknown_route_and_the_dead_reiapi_path_are_404(client: Client) -> None:
    response = client.get("NoSuchThing")
    assert response.status_code == 404
    assert response.json()["Message"].startswith("No HTTP resource was found")
    root = client.server.base_url.removesuffix("/api/v1")
    dead = requests.get(f"{root}/reiapi/GetProperties/take/1/skip/0", headers=JSON, timeout=5)
    assert dead.status_code == 404


def test_path_segments_match_case_insensitively(client: Client) -> None:
    expected = client.properties(3)
    for path in ("getproperties/TAKE/3/Skip/0", "GETPROPERTIES/take/3/skip/0"):
        assert client.json(path)["result"] == expected
    root = client.server.base_url.removesuffix("/api/v1")
    response = client.session.get(
        f"{root}/API/V1/Geo/Countries",
        headers={"Authorization": f"Bearer {client.token()}", **JSON},
    )
    assert response.status_code == 200


def test_errors_are_xml_when_accept_has_no_json(client: Client) -> None:
    for accept in ("application/xml", "text/html", None):
        response = client.get("GetProperties/take/0/skip/0", accept=accept)
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith("application/xml")
        root = ET.fromstring(response.text)  # noqa: S314 - our own sandbox
        assert root.tag == "Error"
        assert root.findtext("Message") == INVALID
        assert root.find("ModelState") is not None
    denied = client.get("associates/take/1/skip/0", token="bad", accept="text/xml")
    denied_root = ET.fromstring(denied.text)  # noqa: S314 - our own sandbox
    assert denied_root.findtext("Message") == DENIED


def test_star_star_and_json_accept_get_json_errors(client: Client) -> None:
    for accept in ("*/*", "application/json", "text/json", "application/json, text/plain"):
        response = client.get("GetPropertyDetails/1", accept=accept)
        assert response.headers["Content-Type"].startswith("application/json")


def test_successful_bodies_are_json_whatever_the_accept(client: Client) -> None:
    response = client.get("GetProperties/take/2/skip/0", accept="application/xml")
    assert response.status_code == 200
    assert len(response.json()["result"]) == 2


def test_write_methods_are_not_allowed_on_read_endpoints(client: Client) -> None:
    response = client.session.post(
        f"{client.server.base_url}/GetProperties/take/1/skip/0",
        headers={"Authorization": f"bearer {client.token()}", **JSON},
    )
    assert response.status_code == 405


def test_auth_is_checked_before_parameters(client: Client) -> None:
    response = client.get("GetProperties/take/0/skip/0", token="bad")
    assert response.status_code == 401


def test_token_errors_are_json_even_for_xml_clients(client: Client) -> None:
    response = client.session.post(
        f"{client.server.base_url}/oauth/token",
        data=client.form(apikey="x"),
        headers={"Accept": "application/xml"},
    )
    assert response.json()["error"] == "invalid_grant"
