"""Which details statuses mean "online": the scan's own list first, then the catalogue's words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tests.unit.test_api_client import BRAND
from worker.db.schema import TableSpec
from worker.errors import ApiStatusError
from worker.sync.delisting import reconcile
from worker.sync.entities import PROPERTIES_ENTITY
from worker.sync.statuses import OnlineStatuses, label_is_online

NAMES = [
    {"lookupID": 1, "lookupName": "ListingContractType"},
    {"lookupID": 9, "lookupName": "StandardStatus"},
]
VALUES = [
    {"standardStatusID": 31, "standardStatusName_EN": "Active", "standardStatusName_ES": "Activa"},
    {"standardStatusID": 32, "standardStatusName_EN": "Pending", "standardStatusName_ES": None},
    {"standardStatusID": 33, "standardStatusName_EN": "Sold", "standardStatusName_ES": "Vendida"},
    {"standardStatusID": 34, "standardStatusName_EN": None, "standardStatusName_ES": "Retirada"},
    {"standardStatusID": 35, "standardStatusName_EN": "Inactive", "standardStatusName_ES": None},
]


class Api:
    """`get_json`/`get_json_or_none` from a dict of answers (an exception is raised)."""

    brand = BRAND

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def get_json(self, path: str) -> Any:
        self.calls.append(path)
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get_json_or_none(self, path: str) -> Any:
        return self.get_json(path)


def catalogue_api(**extra: Any) -> Api:
    return Api({"lookups/names": NAMES, "lookups/detailsbyid/9": VALUES, **extra})


@pytest.mark.parametrize(
    ("labels", "online"),
    [
        (("Active", "Activa"), True),
        (("Active Under Contract", None), True),
        (("Coming Soon", "Próximamente"), True),
        ((None, "Pendiente"), True),
        (("Inactive", None), False),
        (("Sold", "Vendida"), False),
        (("Expired", None), False),
        (("Cancelled", "Cancelada"), False),
        (("Off-Market", None), False),
        ((None, "Retirada"), False),
        (("Draft", None), None),
        ((None, None), None),
    ],
)
def test_catalogue_labels_are_read_for_their_meaning(
    labels: tuple[str | None, str | None], online: bool | None
) -> None:
    assert label_is_online(labels) is online


def test_a_status_on_the_online_list_is_online_without_asking_the_catalogue() -> None:
    api = catalogue_api()
    statuses = OnlineStatuses(api, [7, "8"])  # type: ignore[arg-type]
    assert statuses.is_online(7) is True
    assert statuses.is_online("8") is True
    assert statuses.is_online(8) is True
    assert api.calls == []


def test_other_statuses_are_judged_by_the_catalogue_asked_once() -> None:
    api = catalogue_api()
    statuses = OnlineStatuses(api, [31])  # type: ignore[arg-type]
    assert statuses.is_online(32) is True  # Pending: online, though no listing had it
    assert statuses.is_online(33) is False  # Sold
    assert statuses.is_online(34) is False  # Retirada
    assert statuses.is_online(35) is False  # Inactive
    assert statuses.is_online(99) is False  # neither listed nor known: not an online status
    assert statuses.is_online(None) is None  # no status: no judgement
    assert statuses.is_online(True) is None
    assert api.calls == ["lookups/names", "lookups/detailsbyid/9"]


def test_an_unreadable_catalogue_judges_nothing() -> None:
    api = catalogue_api(**{"lookups/names": ApiStatusError(500, "boom", path="lookups/names")})
    statuses = OnlineStatuses(api, [31])  # type: ignore[arg-type]
    assert statuses.is_online(31) is True
    assert statuses.is_online(33) is None
    assert statuses.is_online(34) is None
    assert api.calls == ["lookups/names"]  # not asked again this run


class Sink:
    def __init__(self, active: set[int]) -> None:
        self.active = active
        self.delisted: list[int] = []

    def delisting_candidates(
        self, spec: TableSpec, brand: str, seen: Sequence[int]
    ) -> tuple[int, list[int]]:
        return len(self.active), sorted(self.active - set(seen))

    def mark_delisted(self, spec: TableSpec, brand: str, ids: Sequence[int]) -> int:
        self.delisted.extend(ids)
        return len(ids)


def details(listing_id: int, status: Any) -> dict[str, Any]:
    return {"result": [{"listingId": listing_id, "standardStatusId": status}]}


@pytest.mark.parametrize("names_fail", [False, True])
def test_reconcile_delists_by_meaning(names_fail: bool) -> None:
    answers: dict[str, Any] = {
        f"GetPropertyDetails/{i}": details(i, s)
        for i, s in ((1, 31), (2, 32), (3, 33), (4, 5), (5, None))
    }
    if names_fail:
        answers["lookups/names"] = ApiStatusError(503, "down", path="lookups/names")
    api = catalogue_api(**answers)
    sink = Sink({1, 2, 3, 4, 5, 10})
    outcome = reconcile(
        api,  # type: ignore[arg-type]
        sink,  # type: ignore[arg-type]
        PROPERTIES_ENTITY,
        [10],
        parallelism=1,
        guard_minimum=10,
        online_statuses=[31],
    )
    kept = sorted(r["listingId"] for r in outcome.still_listed)
    if names_fail:  # only what the list proves: 31 online; the rest cannot be judged
        assert (sink.delisted, kept, outcome.unconfirmed) == ([], [1, 5], 3)
    else:  # 33 Sold and 5 (unknown here) are gone; 32 Pending is online; no status: kept
        assert (sink.delisted, kept, outcome.unconfirmed) == ([3, 4], [1, 2, 5], 0)
