from __future__ import annotations

import pytest

from worker.db.schema import Reject, Row
from worker.sync.records import normalise_image


def image(photo: object) -> dict[str, object]:
    return {
        "ListingId": 10744,
        "PhotoId": photo,
        "Prioridad": 1,
        "ImageUrl": "https://cdn.example/u.jpg",
        "Status": 1,
    }


@pytest.mark.parametrize("photo", ["²", "1" * 5000, "١٢", "12a", -1, 2**70])
def test_odd_id_strings_are_rejects_not_crashes(photo: object) -> None:
    result = normalise_image(image(photo))
    assert isinstance(result, Reject)
    assert "PhotoId" in result.reason or "photo" in result.reason.lower()


def test_ascii_digit_strings_are_ids() -> None:
    assert isinstance(normalise_image(image(" 1074401 ")), Reject)  # plain digits only
    result = normalise_image(image("1074401"))
    assert isinstance(result, Row)
    assert result.source_id == 1074401
