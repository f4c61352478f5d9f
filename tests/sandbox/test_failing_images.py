"""Listings whose images always fail: chosen by id or by share, in three modes, every time."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from tests.sandbox.conftest import Admin, Client
from worker.cli.app import app
from worker.sandbox import SandboxConfig, SandboxServer


def listing_ids(client: Client) -> list[int]:
    return [p["listingId"] for p in client.scan()]


def test_failing_images_are_off_by_default(admin: Admin) -> None:
    faults = admin.get("faults")
    assert faults["failing_images_rate"] == 0.0
    assert faults["failing_images_ids"] == []
    assert faults["failing_images_mode"] == "500"


def test_a_chosen_listing_answers_500_every_time_and_the_others_do_not(
    client: Client, admin: Admin
) -> None:
    first, second = listing_ids(client)[:2]
    admin.post("faults", {"failing_images_ids": [first]})
    for _ in range(3):
        failed = client.get(f"propertyimages/{first}")
        assert failed.status_code == 500
        assert failed.json() == {"Message": "An error has occurred."}
    assert client.get(f"propertyimages/{second}").status_code == 200
    assert client.get(f"GetPropertyDetails/{first}").status_code == 200  # only its images


def test_not_json_mode_answers_200_with_a_body_that_does_not_decode(
    client: Client, admin: Admin
) -> None:
    target = listing_ids(client)[0]
    admin.post("faults", {"failing_images_ids": [target], "failing_images_mode": "not_json"})
    answer = client.get(f"propertyimages/{target}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(answer.content)


def test_model_state_mode_answers_the_invalid_request_404(client: Client, admin: Admin) -> None:
    target = listing_ids(client)[0]
    admin.post("faults", {"failing_images_ids": [target], "failing_images_mode": "model_state_404"})
    answer = client.get(f"propertyimages/{target}")
    assert answer.status_code == 404
    body = answer.json()
    assert body["Message"] == "The request is invalid."
    assert set(body["ModelState"]) == {"listingId"}


def test_a_rate_picks_the_same_share_of_listings_on_every_scan(
    client: Client, admin: Admin
) -> None:
    ids = listing_ids(client)
    admin.post("faults", {"failing_images_rate": 0.1, "fault_seed": 5})

    def failing() -> set[int]:
        return {i for i in ids if client.get(f"propertyimages/{i}").status_code == 500}

    picked = failing()
    assert 5 <= len(picked) <= 40  # ~10 % of 200
    assert failing() == picked  # a listing fails always or never
    admin.post("faults", {"failing_images_rate": 0.1, "fault_seed": 6})
    assert failing() != picked  # the seed chooses which


def test_bad_knob_values_are_refused(admin: Admin) -> None:
    for bad in (
        {"failing_images_mode": "teapot"},
        {"failing_images_ids": "12"},
        {"failing_images_ids": [True]},
        {"failing_images_rate": 1.5},
    ):
        response = admin.session.post(f"{admin.url}/faults", json=bad)
        assert response.status_code == 400, bad


def test_the_knobs_can_be_set_at_start() -> None:
    config = SandboxConfig(
        listings=5, failing_images_ids=(10_000,), failing_images_mode="model_state_404"
    )
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        client = Client(server)
        assert client.get("propertyimages/10000").status_code == 404
        faults = Admin(server).get("faults")
    assert faults["failing_images_ids"] == [10_000]


def test_sandbox_help_documents_the_knobs() -> None:
    result = CliRunner().invoke(app, ["sandbox", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for flag in ("--failing-images-rate", "--failing-images-id", "--failing-images-mode"):
        assert flag in result.output
