"""Listing prototypes: fully generated `GetProperties` records that listings overlay.

A prototype's fields are drawn from one seeded stream in a fixed order (and its
status from a second one), so the same (seed, number) always gives the same
record. The order of the draws is the data: the helpers below are called, and
their keys written, in exactly that order.
"""

from __future__ import annotations

import random

from worker.sandbox import vocabulary as vocab
from worker.sandbox.catalogue import GEO, LOOKUP_BY_NAME, Country
from worker.sandbox.seeds import JsonDict, mix, pick

_CONTRACT_TYPES = LOOKUP_BY_NAME["ListingContractType"].ids()
_USES = LOOKUP_BY_NAME["MostProbableUse"].ids()
_TYPES = LOOKUP_BY_NAME["PropertyType"].ids()
_GENERAL_LOCATIONS = LOOKUP_BY_NAME["PropertyGeneralLocation"].ids()
_LAND_TYPES = frozenset({3, 8})


def build_prototype(seed: int, number: int, home: Country, office_code: str) -> JsonDict:
    """Prototype `number` of a brand (`seed`) whose office is in `home`."""
    return _Prototype(seed, number, home).record(office_code)


class _Prototype:
    """The draws of one prototype; `__init__` makes those its record's fields share."""

    def __init__(self, seed: int, number: int, home: Country) -> None:
        self.r = random.Random(mix(seed, 1, number))
        self.v = random.Random(mix(seed, 2, number))
        rand = self.rand = self.r.random
        self.country = home if rand() < 0.9 else GEO[int(rand() * len(GEO))]
        self.state = self.country.states[int(rand() * len(self.country.states))]
        self.location = self.state.locations[int(rand() * len(self.state.locations))]
        self.ptype = _TYPES[int(rand() * len(_TYPES))]
        self.land = self.ptype in _LAND_TYPES
        self._texts()
        self.language = rand()
        self._sizes()
        self.owner_first = vocab.FIRST_NAMES[int(rand() * len(vocab.FIRST_NAMES))]
        self.owner_last = vocab.LAST_NAMES[int(rand() * len(vocab.LAST_NAMES))]
        self.has_owner = rand() < 0.7
        self._position()
        self.address_public = rand() < 0.6
        self.video = (
            f"https://youtu.be/{self.r.getrandbits(64):016x}"[:28] if rand() < 0.25 else None
        )

    def _texts(self) -> None:
        rand, kind, place = self.rand, self.ptype - 1, self.location.name
        self.title_en = f"{vocab.ADJ_EN[int(rand() * 7)]} {vocab.KIND_EN[kind]} in {place}"
        noun, feminine = vocab.KIND_ES[kind]
        self.title_es = f"{vocab.ADJ_ES[int(rand() * 7)][feminine]} {noun} en {place}"
        n_feat = 2 + int(rand() * 4)
        first_feature = int(rand() * 10)
        step = pick(rand(), (1, 3, 7, 9))
        feats = [(first_feature + k * step) % 10 for k in range(n_feat)]
        sep = "\n" if rand() < 0.6 else " "
        self.remarks_en = sep.join(vocab.FEATURE_EN[i] for i in feats)
        self.remarks_es = sep.join(vocab.FEATURE_ES[i] for i in feats)
        if rand() < 0.5:
            self.remarks_en += "\n"

    def _sizes(self) -> None:
        rand, land = self.rand, self.land
        self.bedrooms = None if land else 1 + int(rand() * 6)
        self.baths = None if land else 1 + int(rand() * 4)
        self.lot = round(200 + rand() * 4800, 0 if rand() < 0.7 else 2)
        self.living = None if land else 40 + int(rand() * 400)
        self.garage_size = None if land else pick(rand(), (None, 0, 14, 18, 36))
        self.garage = not land and rand() < 0.5

    def _position(self) -> None:
        rand, country = self.rand, self.country
        lat_roll = rand()
        if lat_roll < 0.05:
            self.latitude: str | None = None
            self.longitude: str | None = None
        elif lat_roll < 0.1:
            self.latitude = self.longitude = ""
        else:
            self.latitude = repr(country.lat + (rand() - 0.5) * 0.4)
            self.longitude = repr(country.lon + (rand() - 0.5) * 0.4)

    def record(self, office_code: str) -> JsonDict:
        """The fields in the vendor's order, each section drawing after the one before."""
        return {
            **self._headline(),
            **self._owner_and_terms(),
            **self._address(),
            **self._amenities(),
            **self._sizes_and_price(office_code),
        }

    def _headline(self) -> JsonDict:
        rand, land, english, spanish = self.rand, self.land, self._english, self._spanish
        v = self.v
        return {
            "listingId": 0,  # the overlay fills ids, dates, price and member
            "listingKey": "",
            "listingContractType": _CONTRACT_TYPES[0 if rand() < 0.8 else int(rand() * 3)],
            "listingTitle_en": self.title_en[:75] if english else None,
            "listingTitle_es": self.title_es[:75] if spanish else None,
            "publicRemarks_en": self.remarks_en if english else None,
            "publicRemarks_es": self.remarks_es if spanish else None,
            "standardStatusId": 2 if v.random() < 0.85 else (1, 3)[int(v.random() * 2)],
            "listingProbableUseId": 4 if land else _USES[int(rand() * len(_USES))],
            "propertyTypeId": self.ptype,
            "propertyGeneralLocationId": _GENERAL_LOCATIONS[int(rand() * len(_GENERAL_LOCATIONS))],
            "propertyNewYN": rand() < 0.2,
            "furnishedYN": rand() < 0.4,
        }

    @property
    def _english(self) -> bool:
        return self.language < 0.85

    @property
    def _spanish(self) -> bool:
        return self.language > 0.35

    def _owner_and_terms(self) -> JsonDict:
        rand, has_owner = self.rand, self.has_owner
        first, last = self.owner_first, self.owner_last
        return {
            "listingContractDate": "",
            "expirationDate": "",
            "ownerName": f"{first} {last}" if has_owner else None,
            "ownerPhones": f"+{297 + int(rand() * 300)} {5000000 + int(rand() * 4999999)}"
            if has_owner
            else None,
            "ownerEmail": f"{first[0].lower()}.{last.split()[-1].lower()}"
            f"{int(rand() * 100)}@correo.example"
            if has_owner and rand() < 0.6
            else None,
            "listingAgreementYN": 1 if rand() < 0.9 else 0,
            "listingSideComm": pick(rand(), (2.5, 3.0, 3.5, 5.0)),
            "sellingSideComm": pick(rand(), (2.5, 2.0, 3.0)),
            "closeListingCommAmount": None,
            "closeSellingCommAmount": None,
            "privateRemarks_en": vocab.PRIVATE_EN[int(rand() * 3)] if rand() < 0.5 else "",
            "privateRemarks_es": vocab.PRIVATE_ES[int(rand() * 3)] if rand() < 0.4 else None,
        }

    def _address(self) -> JsonDict:
        rand = self.rand
        return {
            "countryId": self.country.country_id,
            "stateDepProvId": self.state.state_id,
            "locationId": self.location.location_id,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "mapId": 0,
            "postalCode": f"{10000 + int(rand() * (99999 - 10000))}" if rand() < 0.3 else None,
            "unparsedAddress": f"{vocab.STREETS[int(rand() * len(vocab.STREETS))]} "
            f"{1 + int(rand() * (300 - 1))}, {self.location.name}"
            if rand() < 0.7
            else None,
            "unparsedAddressPublicYN": self.address_public,
            "showingInstruction": vocab.SHOWING[int(rand() * 3)] if rand() < 0.4 else None,
        }

    def _amenities(self) -> JsonDict:
        rand, land, garage = self.rand, self.land, self.garage
        return {
            "garageYN": garage,
            "garageCovered": int(rand() * 3) if garage else 0,
            "garageOpen": int(rand() * 3),
            "garageSpaces": int(rand() * 4) if garage else 0,
            "garageNotes": None,
            "maidRoomYN": 1 if rand() < 0.2 else 0,
            "coolingYN": rand() < 0.8,
            "coolingNotes": vocab.NOTES[int(rand() * 4)] if rand() < 0.1 else None,
            "poolPrivateYN": rand() < 0.4,
            "viewYN": rand() < 0.5,
            "viewNotes": "Vista al mar / ocean view" if rand() < 0.1 else None,
            "bedroomsTotal": self.bedrooms,
            "bedroomsNotes": None,
            "bathroomsFull": self.baths,
            "bathroomsNotes": None,
            "bathroomsHalf": None if land else int(rand() * 3),
            "bathroomsHalfNotes": None,
            "stories": None if land or rand() < 0.5 else 1 + int(rand() * 3),
            "storiesNotes": None,
        }

    def _sizes_and_price(self, office_code: str) -> JsonDict:
        rand, land, lot, living = self.rand, self.land, self.lot, self.living
        english, country = self._english, self.country
        return {
            "lotSizeArea": int(lot) if lot == int(lot) else lot,
            "lotSizeUnitsId": 1 if rand() < 0.9 else 2,
            "constructionSizeLiving": living,
            "constructionSizeGarage": self.garage_size,
            "constructionSizeUnitsId": None if land else 1,
            "yearBuilt": None if land else 1960 + int(rand() * 65),
            "associationYN": rand() < 0.3,
            "associationNotes": None,
            "gatedCommunityYN": rand() < 0.3,
            "listPrice": 0,
            "listPriceCurrencyID": 1 if rand() < 0.7 else country.currency_id,
            "listPricePrivateYN": rand() < 0.1,
            "closePrice": None,
            "closePriceCurrencyID": None,
            "closeDate": None,
            "videoLink": self.video,
            "member": 0,
            "listingDate": "",
            "constructionSizeTotal": None,
            "constructionSize": None if living is None else living + (self.garage_size or 0),
            "swimmingPoolNotes": "Piscina de agua salada" if rand() < 0.1 else None,
            "seo_title": (self.title_en if english else self.title_es)[:60] + "...",
            "seo_description": (self.remarks_en if english else self.remarks_es).split("\n")[0],
            "seo_keywords": "Caribbean Real Estate, Central America Real Estate,"
            f"{country.name_en},{country.name_en}",
            "officecode": office_code,
        }
