"""A server that chose other standard-status ids, and one that still answers a removed
listing's details with an offline status instead of 404."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.sandbox.conftest import Admin, Client
from worker.cli.app import app
from worker.sandbox import SandboxConfig, SandboxServer

OTHER_IDS = (21, 26, 27, 24, 5, 22, 23)
"""Coming Soon 21, Active 26, Under Contract 27, Pending 24, Sold 5, Expired 22, Cancelled 23."""


@pytest.fixture
def other(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    removed = getattr(request, "param", "not_found")
    config = SandboxConfig(listings=60, status_ids=OTHER_IDS, removed_listings=removed)
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        yield server


def statuses(client: Client) -> dict[int, str]:
    names = client.json("lookups/names")
    lookup = next(n["lookupID"] for n in names if n["lookupName"] == "StandardStatus")
    return {
        v["standardStatusID"]: v["standardStatusName_EN"]
        for v in client.json(f"lookups/detailsbyid/{lookup}")
    }


def test_the_catalogue_and_the_records_use_the_chosen_ids(other: SandboxServer) -> None:
    client = Client(other)
    catalogue = statuses(client)
    assert catalogue == {
        21: "Coming Soon",
        26: "Active",
        27: "Active Under Contract",
        24: "Pending",
        5: "Sold",
        22: "Expired",
        23: "Cancelled",
    }
    seen = {p["standardStatusId"] for p in client.scan()}
    assert seen <= {21, 26, 27}
    assert 26 in seen
    truth = {p["standardStatusId"] for p in Admin(other).truth("AZURA", "properties")}
    assert truth == seen


def removed_one(server: SandboxServer) -> int:
    client, admin = Client(server), Admin(server)
    before = {p["listingId"] for p in client.scan()}
    admin.post("epoch", {"changed": 0, "removed": 2 / 60, "added": 0})
    gone = before - {p["listingId"] for p in client.scan()}
    assert len(gone) == 2
    return min(gone)


def test_by_default_a_removed_listing_is_not_found(other: SandboxServer) -> None:
    gone = removed_one(other)
    answer = Client(other).get(f"GetPropertyDetails/{gone}")
    assert answer.status_code == 404
    assert answer.json() == {"Message": f"Property {gone} was not found."}


@pytest.mark.parametrize("other", ["offline_status"], indirect=True)
def test_offline_status_mode_answers_the_record_with_an_offline_status(
    other: SandboxServer,
) -> None:
    client = Client(other)
    gone = removed_one(other)
    answer = client.get(f"GetPropertyDetails/{gone}")
    assert answer.status_code == 200
    (record,) = answer.json()["result"]
    assert record["listingId"] == gone
    assert statuses(client)[record["standardStatusId"]] in ("Sold", "Expired", "Cancelled")
    assert client.get("GetPropertyDetails/99999999").status_code == 404  # never listed
    live = client.scan()[0]["listingId"]
    live_status: Any = client.json(f"GetPropertyDetails/{live}")["result"][0]["standardStatusId"]
    assert live_status in (21, 26, 27)


@pytest.mark.parametrize(
    "changes",
    [{"status_ids": (1, 2, 3)}, {"status_ids": (1, 1, 2, 3, 4, 5, 6)}, {"removed_listings": "x"}],
)
def test_bad_values_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"status_ids|removed_listings"):
        SandboxConfig(**changes)


def test_sandbox_help_documents_the_knobs() -> None:
    result = CliRunner().invoke(app, ["sandbox", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--status-ids" in result.output
    assert "--removed-listings" in result.output
