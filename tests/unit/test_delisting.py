"""Proven delistings: only the API's own not-found answer for the id confirms one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests

from tests.unit.test_api_client import client, response
from worker.db.schema import TableSpec
from worker.sync.delisting import reconcile
from worker.sync.entities import PROPERTIES_ENTITY


class FakeSink:
    def __init__(self, active: set[int]) -> None:
        self.active = active
        self.delisted: list[int] = []

    def active_ids(self, spec: TableSpec, brand: str) -> set[int]:
        return set(self.active)

    def delisting_candidates(
        self, spec: TableSpec, brand: str, seen: Sequence[int]
    ) -> tuple[int, list[int]]:
        return len(self.active), sorted(self.active - set(seen))

    def mark_delisted(self, spec: TableSpec, brand: str, ids: Sequence[int]) -> int:
        self.delisted.extend(ids)
        return len(ids)


def test_only_the_not_found_shape_for_that_id_confirms_a_delisting() -> None:
    html = b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>"
    script: list[requests.Response | Exception] = [
        response(404, b'{"Message": "Property 1 was not found."}'),
        response(
            404,
            b'{"Message": "The request is invalid.", "ModelState": '
            b'{"listingId": ["The value \'2\' is not valid."]}}',
        ),
        response(
            404,
            b'{"Message": "No HTTP resource was found that matches the request URI '
            b"'http://x/api/v1/GetPropertyDetails/3'.\"}",
        ),
        response(404, html, {"Content-Type": "text/html"}),
        response(404, b"{}"),
        response(404, b'{"Message": "Property 99 was not found."}'),
    ]
    c, _, _, _ = client(script)
    sink: Any = FakeSink({1, 2, 3, 4, 5, 6, 7})
    outcome = reconcile(c, sink, PROPERTIES_ENTITY, {7}, parallelism=1, guard_minimum=10)
    assert sink.delisted == [1]
    assert outcome.delisted == 1
    assert outcome.unconfirmed == 5
    assert sink.active == {1, 2, 3, 4, 5, 6, 7}
