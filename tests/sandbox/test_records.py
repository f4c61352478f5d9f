"""Shapes, field names, casing and value types of every read endpoint, per the reference."""

from __future__ import annotations

import re
from typing import Any

from tests.fixtures import sample_property
from tests.sandbox.conftest import Admin, Client
from worker.sandbox import SandboxConfig, SandboxServer

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
PRIVATE = (
    "ownerName", "ownerPhones", "ownerEmail", "privateRemarks_en", "privateRemarks_es",
    "showingInstruction", "listingSideComm", "sellingSideComm",
)  # fmt: skip


def _sample_record() -> dict[str, Any]:
    return sample_property()


def test_properties_page_is_an_object_with_result(client: Client) -> None:
    body = client.json("GetProperties/take/10/skip/0")
    assert list(body) == ["result"]
    assert len(body["result"]) == 10


def test_property_fields_and_order_match_the_vendor_sample(client: Client) -> None:
    sample = _sample_record()
    for record in client.properties(50):
        assert list(record) == list(sample)


def test_property_value_types_follow_the_payloads(client: Client) -> None:
    records = client.scan()
    assert len(records) == 200
    for rec in records:
        assert isinstance(rec["listingId"], int)
        assert isinstance(rec["listingKey"], str)
        assert isinstance(rec["member"], int)
        for flag in ("maidRoomYN", "listingAgreementYN"):
            assert rec[flag] in (0, 1)
            assert not isinstance(rec[flag], bool)
        for flag in ("furnishedYN", "coolingYN", "propertyNewYN", "unparsedAddressPublicYN"):
            assert isinstance(rec[flag], bool)
        for coordinate in ("latitude", "longitude"):
            assert rec[coordinate] is None or isinstance(rec[coordinate], str)
        for field in ("listingContractDate", "expirationDate", "listingDate"):
            assert DATE.match(rec[field]), rec[field]
        assert rec["closeDate"] is None
        assert rec["officecode"].startswith("R07")
    latitudes = [r["latitude"] for r in records]
    assert None in latitudes
    assert "" in latitudes
    assert any(lat and float(lat) for lat in latitudes)


def test_text_has_spanish_newlines_and_nulls(client: Client) -> None:
    records = client.scan()
    remarks = [r["publicRemarks_es"] for r in records if r["publicRemarks_es"]]
    assert any("\n" in text for text in remarks)
    assert any(ch in text for text in remarks for ch in "áéíóúñ¡")
    assert any(r["publicRemarks_es"] is None for r in records)
    assert any(r["listingTitle_en"] is None for r in records)


def test_private_fields_carry_fake_values(client: Client) -> None:
    records = client.scan()
    for field in PRIVATE:
        assert any(r[field] not in (None, "") for r in records), field
    assert any(r["listPricePrivateYN"] for r in records)
    assert any(not r["unparsedAddressPublicYN"] and r["unparsedAddress"] for r in records)


def test_property_details_wraps_one_record(client: Client) -> None:
    first = client.properties(1)[0]
    body = client.json(f"GetPropertyDetails/{first['listingId']}")
    assert body == {"result": [first]}


def test_associates_are_bare_arrays(client: Client) -> None:
    page = client.json("associates/take/10/skip/0")
    assert isinstance(page, list)
    assert len(page) == 10
    assert list(page[0]) == [
        "associateID", "remaxID", "firstName", "lastName", "mobile", "remaxEmail", "birthDay",
        "urlMemberImage", "officeID", "officeName", "officeCountryID", "countryName_en",
        "stateDepProvOffice", "stateDepProv_en", "officeCode",
    ]  # fmt: skip
    one = client.json(f"associates/{page[3]['associateID']}")
    assert one == [page[3]]
    assert len(client.json("associates/take/100/skip/0")) == 30
    assert client.json("associates/take/100/skip/30") == []


def test_images_carry_listing_photo_priority_status(client: Client) -> None:
    listing = client.properties(1)[0]["listingId"]
    images = client.json(f"propertyimages/{listing}")
    assert images
    assert isinstance(images, list)
    for image in images:
        assert list(image) == ["ListingId", "PhotoId", "Prioridad", "ImageUrl", "Status"]
        assert image["ListingId"] == listing
        assert isinstance(image["Status"], int)
        assert len(image["ImageUrl"]) <= 200
    assert [i["Prioridad"] for i in images] == sorted(i["Prioridad"] for i in images)
    photo = images[-1]["PhotoId"]
    assert client.json(f"propertyimagesdetails/{listing}/{photo}") == [images[-1]]


def test_images_per_listing_is_the_mean(admin: Admin) -> None:
    images = admin.truth("AZURA", "images")
    assert 2.5 <= len(images) / 200 <= 3.5


def test_lookups_and_geo_shapes(client: Client) -> None:
    names = client.json("lookups/names")
    assert {"lookupID", "lookupName"} == set(names[0])
    uses = client.json(f"lookups/detailsbyid/{_lookup_id(names, 'MostProbableUse')}")
    assert {"mostProbableUseID": 1, "mostprobableUseName_EN": "General"}.items() <= uses[0].items()
    countries = client.json("geo/countries")
    assert set(countries[0]) == {"countryID", "countryName_en", "countryName_es", "flagurl"}
    country = countries[0]["countryID"]
    states = client.json(f"geo/countries/{country}/StateProvincesInaCountry")
    assert {"countryID", "stateDepProvID"} <= set(states[0])
    state = states[0]["stateDepProvID"]
    path = f"geo/countries/{country}/StateProvincesInaCountry/{state}/LocationsInAStateProvince"
    locations = client.json(path)
    assert set(locations[0]) == {"locationId", "stateDepProvId", "location_en", "location_es"}


def _lookup_id(names: list[dict[str, Any]], name: str) -> int:
    return next(int(n["lookupID"]) for n in names if n["lookupName"] == name)


def test_listings_reference_existing_associates_geo_and_lookups(client: Client) -> None:
    records = client.scan()
    associates = {a["associateID"] for a in client.json("associates/take/1000/skip/0")}
    names = client.json("lookups/names")

    def ids(name: str) -> set[int]:
        values = client.json(f"lookups/detailsbyid/{_lookup_id(names, name)}")
        return {next(iter(v.values())) for v in values}

    catalogue = {
        "listingContractType": ids("ListingContractType"),
        "standardStatusId": ids("StandardStatus"),
        "listingProbableUseId": ids("MostProbableUse"),
        "propertyTypeId": ids("PropertyType"),
        "propertyGeneralLocationId": ids("PropertyGeneralLocation"),
        "lotSizeUnitsId": ids("SizeUnits"),
        "listPriceCurrencyID": ids("Currency"),
    }
    geo = {
        (s["countryID"], s["stateDepProvID"], loc["locationId"])
        for c in client.json("geo/countries")
        for s in client.json(f"geo/countries/{c['countryID']}/StateProvincesInaCountry")
        for loc in client.json(
            f"geo/countries/{c['countryID']}/StateProvincesInaCountry/"
            f"{s['stateDepProvID']}/LocationsInAStateProvince"
        )
    }
    for rec in records:
        assert rec["member"] in associates
        assert (rec["countryId"], rec["stateDepProvId"], rec["locationId"]) in geo
        for field, allowed in catalogue.items():
            assert rec[field] in allowed, (field, rec[field])


def test_pagination_is_stable_and_ends_with_a_short_page(client: Client) -> None:
    first = client.scan(take=37)
    again = client.scan(take=100)
    assert [r["listingId"] for r in first] == [r["listingId"] for r in again]
    assert len({r["listingId"] for r in first}) == 200
    assert client.properties(100, 200) == []
    assert client.properties(1000, 0) == again


def test_brands_see_only_their_own_data(server: SandboxServer) -> None:
    azura, blue = Client(server, "AZURA"), Client(server, "BLUE_OCEAN")
    a_ids = {r["listingId"] for r in azura.scan()}
    b_ids = {r["listingId"] for r in blue.scan()}
    assert a_ids
    assert b_ids
    assert not a_ids & b_ids
    other = next(iter(b_ids))
    assert azura.get(f"GetPropertyDetails/{other}").status_code == 404
    assert azura.get(f"propertyimages/{other}").status_code == 404
    b_assoc = blue.json("associates/take/1/skip/0")[0]["associateID"]
    assert azura.get(f"associates/{b_assoc}").status_code == 404


def test_same_seed_same_data_other_seed_other_data() -> None:
    def snapshot(seed: int) -> list[Any]:
        with SandboxServer(SandboxConfig(seed=seed, listings=30)).start() as srv:
            client = Client(srv)
            return [client.scan(), client.json("associates/take/100/skip/0")]

    assert snapshot(11) == snapshot(11)
    assert snapshot(11) != snapshot(12)


def test_a_million_listings_are_not_materialised() -> None:
    config = SandboxConfig(listings=1_000_000, brands=("BIG",))
    with SandboxServer(config).start() as srv:
        client = Client(srv, "BIG")
        last = client.properties(100, 999_950)
        assert len(last) == 50
        assert client.json(f"GetPropertyDetails/{last[-1]['listingId']}")["result"] == [last[-1]]
        assert len(srv.state.brands["BIG"]._cache) < 1000
