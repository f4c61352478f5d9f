"""Lookup catalogues and the geo tree: fixed tables, shared by every brand, never churned.

Shapes and key casing follow the reference, including its inconsistencies
(`countryID` next to `locationId`, `mostprobableUseName_EN`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Lookup:
    lookup_id: int
    name: str
    id_key: str
    en_key: str
    es_key: str
    values: tuple[tuple[int, str, str], ...]

    def names_entry(self) -> JsonDict:
        return {"lookupID": self.lookup_id, "lookupName": self.name}

    def details(self) -> list[JsonDict]:
        return [{self.id_key: i, self.en_key: en, self.es_key: es} for i, en, es in self.values]

    def ids(self) -> tuple[int, ...]:
        return tuple(v[0] for v in self.values)


LOOKUPS: tuple[Lookup, ...] = (
    Lookup(
        1,
        "ListingContractType",
        "listingContractTypeID",
        "listingContractTypeName_EN",
        "listingContractTypeName_ES",
        ((1, "Exclusive", "Exclusiva"), (2, "Open", "Abierta"), (3, "Co-exclusive", "Coexclusiva")),
    ),
    Lookup(
        2,
        "StandardStatus",
        "standardStatusID",
        "standardStatusName_EN",
        "standardStatusName_ES",
        (
            (1, "Coming Soon", "Próximamente"),
            (2, "Active", "Activa"),
            (3, "Active Under Contract", "Activa bajo contrato"),
            (4, "Pending", "Pendiente"),
            (5, "Sold", "Vendida"),
            (6, "Expired", "Vencida"),
            (7, "Cancelled", "Cancelada"),
        ),
    ),
    Lookup(
        3,
        "MostProbableUse",
        "mostProbableUseID",
        "mostprobableUseName_EN",
        "mostprobableUseName_ES",
        (
            (1, "General", "General"),
            (2, "Residential", "Residencial"),
            (3, "Commercial", "Comercial"),
            (4, "Land", "Terreno"),
            (5, "Vacation Rental", "Alquiler vacacional"),
        ),
    ),
    Lookup(
        4,
        "PropertyType",
        "propertyTypeID",
        "propertyTypeName_EN",
        "propertyTypeName_ES",
        (
            (1, "House", "Casa"),
            (2, "Condo / Apartment", "Condominio / Apartamento"),
            (3, "Lot", "Lote"),
            (4, "Villa", "Villa"),
            (5, "Townhouse", "Casa adosada"),
            (6, "Office", "Oficina"),
            (7, "Retail", "Local comercial"),
            (8, "Farm", "Finca"),
        ),
    ),
    Lookup(
        5,
        "PropertyGeneralLocation",
        "propertyGeneralLocationID",
        "propertyGeneralLocationName_EN",
        "propertyGeneralLocationName_ES",
        (
            (1, "City", "Ciudad"),
            (2, "Beach", "Playa"),
            (3, "Mountain", "Montaña"),
            (4, "Countryside", "Campo"),
            (5, "Lake / River", "Lago / Río"),
        ),
    ),
    Lookup(
        6,
        "SizeUnits",
        "sizeUnitsID",
        "sizeUnitsName_EN",
        "sizeUnitsName_ES",
        (
            (1, "Square meters", "Metros cuadrados"),
            (2, "Square feet", "Pies cuadrados"),
            (3, "Hectares", "Hectáreas"),
            (4, "Acres", "Acres"),
        ),
    ),
    Lookup(
        7,
        "Currency",
        "currencyID",
        "currencyName_EN",
        "currencyName_ES",
        (
            (1, "US Dollar", "Dólar estadounidense"),
            (2, "Euro", "Euro"),
            (3, "Costa Rican Colón", "Colón costarricense"),
            (4, "Aruban Florin", "Florín arubeño"),
            (5, "Dominican Peso", "Peso dominicano"),
            (6, "Panamanian Balboa", "Balboa panameño"),
        ),
    ),
)

LOOKUPS_BY_ID = {lookup.lookup_id: lookup for lookup in LOOKUPS}
LOOKUP_BY_NAME = {lookup.name: lookup for lookup in LOOKUPS}


@dataclass(frozen=True)
class Location:
    location_id: int
    state_id: int
    name: str

    def record(self) -> JsonDict:
        return {
            "locationId": self.location_id,
            "stateDepProvId": self.state_id,
            "location_en": self.name,
            "location_es": self.name,
        }


@dataclass(frozen=True)
class State:
    state_id: int
    country_id: int
    name_en: str
    name_es: str
    locations: tuple[Location, ...]

    def record(self) -> JsonDict:
        return {
            "countryID": self.country_id,
            "stateDepProvID": self.state_id,
            "stateDepProv_en": self.name_en,
            "stateDepProv_es": self.name_es,
        }


@dataclass(frozen=True)
class Country:
    country_id: int
    name_en: str
    name_es: str
    iso: str
    lat: float
    lon: float
    currency_id: int
    states: tuple[State, ...]

    def record(self) -> JsonDict:
        return {
            "countryID": self.country_id,
            "countryName_en": self.name_en,
            "countryName_es": self.name_es,
            "flagurl": f"https://remax-cca.com/images/flags/{self.iso}.png",
        }


_PLACE_WORDS = (
    "San José",
    "Santa Ana",
    "La Unión",
    "El Carmen",
    "San Rafael",
    "Los Ángeles",
    "Playa Hermosa",
    "Bella Vista",
    "Villa Real",
    "El Mirador",
    "Puerto Viejo",
    "Las Mercedes",
    "Santa Cruz",
    "Río Grande",
    "San Nicolás",
    "Noord",
    "Palm Beach",
    "Malmok",
    "Tamarindo",
    "Guácimo",
    "Boquete",
    "Coronado",
    "Punta Cana",
    "Bávaro",
    "Cabarete",
    "Sosúa",
)

_COUNTRIES = (
    (
        1865,
        "Aruba",
        "Aruba",
        "aw",
        12.52,
        -69.97,
        4,
        (
            ("Oranjestad", "Oranjestad"),
            ("Noord", "Noord"),
            ("Paradera", "Paradera"),
            ("San Nicolas", "San Nicolás"),
            ("Santa Cruz", "Santa Cruz"),
        ),
    ),
    (
        1879,
        "Costa Rica",
        "Costa Rica",
        "cr",
        9.93,
        -84.08,
        3,
        (
            ("San Jose", "San José"),
            ("Alajuela", "Alajuela"),
            ("Guanacaste", "Guanacaste"),
            ("Puntarenas", "Puntarenas"),
            ("Limon", "Limón"),
            ("Heredia", "Heredia"),
        ),
    ),
    (
        1880,
        "Dominican Republic",
        "República Dominicana",
        "do",
        18.48,
        -69.93,
        5,
        (
            ("Santo Domingo", "Santo Domingo"),
            ("La Altagracia", "La Altagracia"),
            ("Puerto Plata", "Puerto Plata"),
            ("Samana", "Samaná"),
        ),
    ),
    (
        1908,
        "Panama",
        "Panamá",
        "pa",
        8.98,
        -79.52,
        6,
        (
            ("Panama", "Panamá"),
            ("Chiriqui", "Chiriquí"),
            ("Cocle", "Coclé"),
            ("Bocas del Toro", "Bocas del Toro"),
        ),
    ),
    (
        1868,
        "Belize",
        "Belice",
        "bz",
        17.25,
        -88.77,
        1,
        (("Belize", "Belice"), ("Cayo", "Cayo"), ("Stann Creek", "Stann Creek")),
    ),
    (
        1881,
        "Curacao",
        "Curazao",
        "cw",
        12.17,
        -68.98,
        1,
        (("Willemstad", "Willemstad"), ("Bandabou", "Bandabou")),
    ),
)


def _build_geo() -> tuple[Country, ...]:
    rng = random.Random(1865)
    countries = []
    state_id = 15480
    location_id = 6624300
    for cid, en, es, iso, lat, lon, currency, states in _COUNTRIES:
        built_states = []
        for state_en, state_es in states:
            state_id += 1
            names = rng.sample(_PLACE_WORDS, rng.randint(3, 7))
            locations = []
            for name in names:
                location_id += rng.randint(1, 40)
                locations.append(Location(location_id, state_id, name))
            built_states.append(State(state_id, cid, state_en, state_es, tuple(locations)))
        countries.append(Country(cid, en, es, iso, lat, lon, currency, tuple(built_states)))
    return tuple(countries)


GEO: tuple[Country, ...] = _build_geo()
COUNTRIES_BY_ID = {country.country_id: country for country in GEO}
STATES_BY_ID = {state.state_id: state for country in GEO for state in country.states}


def lookups_truth() -> list[JsonDict]:
    return [{"lookup": lk.names_entry(), "values": lk.details()} for lk in LOOKUPS]


def geo_truth() -> list[JsonDict]:
    return [
        {
            "country": country.record(),
            "states": [
                {"state": state.record(), "locations": [loc.record() for loc in state.locations]}
                for state in country.states
            ],
        }
        for country in GEO
    ]
