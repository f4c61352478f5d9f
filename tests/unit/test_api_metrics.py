"""The API metrics' labels stay bounded: endpoint templates, status classes, retry reasons."""

from __future__ import annotations

import pytest

from worker.api.metrics import endpoint_template, retry_reason, status_class
from worker.errors import ApiDecodeError, ApiStatusError, ApiTransportError


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("GetProperties/take/100/skip/200", "GetProperties/take/{n}/skip/{n}"),
        ("GetPropertyDetails/123456", "GetPropertyDetails/{n}"),
        ("propertyimages/98765?x=1", "propertyimages/{n}"),
        (
            "geo/countries/7/StateProvincesInaCountry/9/LocationsInAStateProvince",
            "geo/countries/{n}/StateProvincesInaCountry/{n}/LocationsInAStateProvince",
        ),
        ("lookups/names", "lookups/names"),
        ("associates/A1B2", "associates/{n}"),
        ("a/b/c/d/e/f/g/h", "a/b/c/d/e/f"),
    ],
)
def test_the_endpoint_label_is_the_template_never_the_id(path: str, template: str) -> None:
    assert endpoint_template(path) == template


def test_a_thousand_listings_make_one_endpoint_label() -> None:
    assert len({endpoint_template(f"propertyimages/{i}") for i in range(1000)}) == 1


def test_status_classes_and_retry_reasons_are_fixed_words() -> None:
    assert [status_class(s) for s in (200, 404, 429, 503)] == ["2xx", "4xx", "4xx", "5xx"]
    assert retry_reason(ApiStatusError(429, "slow down")) == "rate_limited"
    assert retry_reason(ApiStatusError(502, "bad gateway")) == "server_error"
    assert retry_reason(ApiTransportError("reset")) == "transport"
    assert retry_reason(ApiDecodeError("html")) == "decode"
