"""The API's read endpoints and the shape of what each returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.errors import ApiDecodeError


@dataclass(frozen=True)
class PagedEndpoint:
    """`{name}/take/{take}/skip/{skip}`; `wrapped` endpoints answer `{"result": [...]}`."""

    name: str
    wrapped: bool

    def path(self, take: int, skip: int) -> str:
        return f"{self.name}/take/{take}/skip/{skip}"

    def items(self, body: Any) -> list[Any]:
        if self.wrapped:
            body = body.get("result") if isinstance(body, dict) else None
        if not isinstance(body, list):
            raise ApiDecodeError(
                f"{self.name}: expected a list of records, got {type(body).__name__}"
            )
        return body


PROPERTIES = PagedEndpoint("GetProperties", wrapped=True)
ASSOCIATES = PagedEndpoint("associates", wrapped=False)


def property_details_path(listing_id: int) -> str:
    return f"GetPropertyDetails/{listing_id}"


def property_images_path(listing_id: int) -> str:
    return f"propertyimages/{listing_id}"


def associate_path(associate_id: int) -> str:
    return f"associates/{associate_id}"


LOOKUP_NAMES_PATH = "lookups/names"
COUNTRIES_PATH = "geo/countries"


def lookup_values_path(lookup_id: int) -> str:
    return f"lookups/detailsbyid/{lookup_id}"


def states_path(country_id: int) -> str:
    return f"geo/countries/{country_id}/StateProvincesInaCountry"


def locations_path(country_id: int, state_id: int) -> str:
    return f"{states_path(country_id)}/{state_id}/LocationsInAStateProvince"


def as_list(body: Any, what: str) -> list[Any]:
    """A bare-array answer, or the single `result` list of a wrapped one."""
    if isinstance(body, dict) and isinstance(body.get("result"), list):
        body = body["result"]
    if not isinstance(body, list):
        raise ApiDecodeError(f"{what}: expected a list of records, got {type(body).__name__}")
    return body
