"""The paging knobs: a silent page cap, a take limit, truncated 200 bodies, failing offsets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import requests
from typer.testing import CliRunner

from tests.sandbox.conftest import Admin, Client
from worker.cli.app import app
from worker.sandbox import SandboxConfig, SandboxServer

PATHS = {"properties": "GetProperties", "associates": "associates"}


def records(client: Client, entity: str, take: int, skip: int) -> list[dict[str, Any]]:
    body = client.json(f"{PATHS[entity]}/take/{take}/skip/{skip}")
    result: list[dict[str, Any]] = body["result"] if entity == "properties" else body
    return result


@pytest.mark.parametrize("entity", ["properties", "associates"])
def test_page_cap_answers_at_most_n_records_whatever_take_asked(
    client: Client, admin: Admin, entity: str
) -> None:
    truth = records(client, entity, 1000, 0)
    admin.post("faults", {"page_cap": 7})
    assert admin.get("faults")["page_cap"] == 7
    assert len(records(client, entity, 20, 0)) == 7
    assert len(records(client, entity, 3, 0)) == 3
    scanned: list[dict[str, Any]] = []
    while page := records(client, entity, 20, len(scanned)):
        assert len(page) <= 7
        scanned.extend(page)
    assert scanned == truth, "continuing where the items ended reads every record once"


@pytest.mark.parametrize("entity", ["properties", "associates"])
def test_take_limit_refuses_a_larger_take_with_the_invalid_request_404(
    client: Client, admin: Admin, entity: str
) -> None:
    admin.post("faults", {"take_limit": 50})
    refused = client.get(f"{PATHS[entity]}/take/51/skip/0")
    assert refused.status_code == 404
    assert refused.json() == {
        "Message": "The request is invalid.",
        "ModelState": {"take": ["The value '51' is not valid. The maximum is 50."]},
    }
    assert client.get(f"{PATHS[entity]}/take/50/skip/0").status_code == 200
    admin.post("faults", {"take_limit": 0})
    assert client.get(f"{PATHS[entity]}/take/51/skip/0").status_code == 200


def test_truncated_rate_cuts_200_bodies_short_and_leaves_errors_whole(
    client: Client, admin: Admin
) -> None:
    client.token()
    admin.post("faults", {"truncated_rate": 1.0})
    page = client.get("GetProperties/take/5/skip/0")
    assert page.status_code == 200
    assert page.content.startswith(b'{"result":[')
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(page.content)
    missing = client.get("GetPropertyDetails/1")
    assert missing.status_code == 404
    assert "was not found" in missing.json()["Message"]


@pytest.mark.parametrize("entity", ["properties", "associates"])
def test_failing_offsets_answer_500_for_every_page_that_covers_them(
    client: Client, admin: Admin, entity: str
) -> None:
    admin.post("faults", {"failing_offsets": [12, 3]})
    assert admin.get("faults")["failing_offsets"] == [3, 12]
    path = PATHS[entity]
    for take, skip in ((10, 10), (1, 12), (20, 0), (5, 3)):
        response = client.get(f"{path}/take/{take}/skip/{skip}")
        assert response.status_code == 500
        assert response.json() == {"Message": "An error has occurred."}
    for take, skip in ((2, 10), (1, 13), (3, 0), (8, 4)):
        assert client.get(f"{path}/take/{take}/skip/{skip}").status_code == 200


def test_paging_knobs_reject_bad_values(admin: Admin) -> None:
    for bad in (
        {"page_cap": -1},
        {"take_limit": True},
        {"truncated_rate": 1.5},
        {"failing_offsets": [-4]},
        {"failing_offsets": "12"},
    ):
        response = requests.post(f"{admin.url}/faults", json=bad, timeout=5)
        assert response.status_code == 400, bad
    assert admin.post("faults/reset")["failing_offsets"] == []


def test_paging_knobs_can_be_set_at_start_and_are_flags() -> None:
    config = SandboxConfig(page_cap=4, take_limit=10, failing_offsets=(9,))
    with SandboxServer(config).start() as srv:
        client = Client(srv)
        assert len(client.properties(10, 0)) == 4
        assert client.get("GetProperties/take/11/skip/0").status_code == 404
        assert client.get("GetProperties/take/4/skip/8").status_code == 500
    help_text = CliRunner().invoke(app, ["sandbox", "--help"], env={"COLUMNS": "200"}).output
    for flag in ("--page-cap", "--take-limit", "--truncated-rate", "--failing-offset"):
        assert flag in help_text
