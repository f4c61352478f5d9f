"""One brand's data: listings, associates and images derived from (seed, brand, slot, version).

Nothing is materialised: a record is generated when asked for, from two seeded
random streams — one per slot for what never changes (address, size, agent's
slot), one per (slot, version) for what an epoch's "change" alters (price,
remarks, expiry). Serialised records are kept in a bounded cache keyed by
(slot, version), so repeat scans cost a dictionary lookup per record.
"""

from __future__ import annotations

import functools
import random
import threading
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from worker.sandbox import vocabulary as vocab
from worker.sandbox.catalogue import GEO, LOOKUP_BY_NAME, Country
from worker.sandbox.population import Population, churn_count

JsonDict = dict[str, Any]

FIRST_LISTING_ID = 10_000
FIRST_ASSOCIATE_ID = 200
MAX_PHOTOS_PER_LISTING = 99
PROTOTYPES = 1024
"""Distinct generated bodies per brand; each listing overlays ids, dates, price, position."""
_DAY0 = date(2015, 1, 1).toordinal()

_CONTRACT_TYPES = LOOKUP_BY_NAME["ListingContractType"].ids()
_USES = LOOKUP_BY_NAME["MostProbableUse"].ids()
_TYPES = LOOKUP_BY_NAME["PropertyType"].ids()
_GENERAL_LOCATIONS = LOOKUP_BY_NAME["PropertyGeneralLocation"].ids()
_LAND_TYPES = frozenset({3, 8})


def _mix(*parts: int) -> int:
    """A 64-bit seed from small ints; stable across processes (no `hash()`)."""
    acc = 0x9E3779B97F4A7C15
    for part in parts:
        acc = ((acc ^ (part & 0xFFFFFFFFFFFFFFFF)) * 0x100000001B3 + 0x632BE59BD9B4E019) % (1 << 64)
        acc ^= acc >> 29
    return acc


def _pick(roll: float, options: tuple[Any, ...]) -> Any:
    """`random.choice` without its overhead (this runs ~30 times per record)."""
    return options[int(roll * len(options))]


def _ascii(text: str) -> str:
    """Letters only, accents dropped: 'Núñez' → 'Nunez' (e-mail local parts)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded if c.isalnum())


@functools.lru_cache(maxsize=8192)
def _day(ordinal: int) -> str:
    """Zone-less midnight timestamp, as the vendor writes dates (cached: few distinct days)."""
    return date.fromordinal(ordinal).isoformat() + "T00:00:00"


@dataclass(frozen=True)
class ChurnCounts:
    changed: int
    removed: int
    added: int

    def to_json(self) -> dict[str, int]:
        return {"changed": self.changed, "removed": self.removed, "added": self.added}


@dataclass(frozen=True)
class _Photo:
    number: int
    priority: int
    revision: int
    hidden: bool


class BrandData:
    """Everything one brand (integrator) can see. Callers hold `lock` around reads and changes."""

    def __init__(
        self,
        key: str,
        number: int,
        brand_count: int,
        *,
        seed: int,
        listings: int,
        associates: int,
        images_per_listing: int,
        cache_records: int,
        status_ids: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7),
    ) -> None:
        self.key = key
        self.number = number
        self.brand_count = brand_count
        self.seed = _mix(seed, zlib.crc32(key.encode()))
        self.images_per_listing = images_per_listing
        self.lock = threading.RLock()
        self.listings = Population(listings)
        self.associates = Population(associates)
        self.initial_associates = associates
        self._agent_digits = max(3, len(str(self.associate_id(associates - 1))))
        self.transfers: dict[int, int] = {}
        """Removed associate slot → the associate slot their listings went to."""
        self.image_ops: dict[int, list[tuple[str, int]]] = {}
        self.epoch = 0
        self.country: Country = GEO[(zlib.crc32(key.encode()) + number) % len(GEO)]
        self.office_number = 130 + 1000 * number + zlib.crc32(key.encode()) % 97
        self.office_code = f"R07{self.office_number:05d}"
        self.office_name = "RE/MAX " + key.replace("_", " ").title()
        self._cache: dict[tuple[int, int], bytes] = {}
        self._prototypes: dict[int, JsonDict] = {}
        self._cache_limit = max(0, cache_records)
        self.status_ids = status_ids
        """The server's id of each standard status (Coming Soon … Cancelled, in order)."""

    # ---- ids ---------------------------------------------------------------------------

    def listing_id(self, slot: int) -> int:
        return FIRST_LISTING_ID + slot * self.brand_count + self.number

    def listing_slot(self, listing_id: int) -> int | None:
        """The live slot of one of this brand's listing ids, else None (other brand, gone)."""
        offset = listing_id - FIRST_LISTING_ID
        if offset < 0 or offset % self.brand_count != self.number:
            return None
        slot = offset // self.brand_count
        return slot if self.listings.is_live(slot) else None

    def removed_listing_slot(self, listing_id: int) -> int | None:
        """The slot of one of this brand's listings that an epoch removed, else None."""
        offset = listing_id - FIRST_LISTING_ID
        if offset < 0 or offset % self.brand_count != self.number:
            return None
        slot = offset // self.brand_count
        return slot if slot < self.listings.total and not self.listings.is_live(slot) else None

    def offline_json(self, slot: int) -> bytes:
        """A removed listing's record as the details answer may still give it: offline
        (Sold, Expired or Cancelled, by slot), in this server's status ids."""
        record = self.property_record(slot)
        record["standardStatusId"] = self.status_ids[4 + slot % 3]
        return orjson.dumps(record)

    def associate_id(self, slot: int) -> int:
        return FIRST_ASSOCIATE_ID + slot * self.brand_count + self.number

    def associate_slot(self, associate_id: int) -> int | None:
        offset = associate_id - FIRST_ASSOCIATE_ID
        if offset < 0 or offset % self.brand_count != self.number:
            return None
        slot = offset // self.brand_count
        return slot if self.associates.is_live(slot) else None

    def member_slot(self, listing_slot: int) -> int:
        slot = listing_slot % self.initial_associates
        while slot in self.transfers:
            slot = self.transfers[slot]
        return slot

    # ---- listings ----------------------------------------------------------------------

    def listings_page(self, take: int, skip: int) -> list[int]:
        """Slots of one `GetProperties` page: newest first, stable within an epoch."""
        order = self.listings.order
        end = len(order) - skip
        if end <= 0:
            return []
        start = max(0, end - take)
        return [order[i] for i in range(end - 1, start - 1, -1)]

    def iter_listing_slots(self) -> Iterator[int]:
        order = self.listings.order
        for i in range(len(order) - 1, -1, -1):
            yield order[i]

    def property_json(self, slot: int) -> bytes:
        key = (slot, self.listings.versions[slot])
        cached = self._cache.get(key)
        if cached is None:
            # Copied into an exact-size object: keeping orjson's own (over-allocated,
            # then shrunk) buffer alive made each cached record ~4x dearer to build.
            cached = bytes(memoryview(orjson.dumps(self.property_record(slot))))
            if self._cache_limit:
                if len(self._cache) >= self._cache_limit:
                    del self._cache[next(iter(self._cache))]
                self._cache[key] = cached
        return cached

    def property_record(self, slot: int) -> JsonDict:
        """A prototype overlaid with what makes this listing and its version its own.

        Generating all ~80 fields per listing costs ~40 µs; an overlay of a dozen
        costs a few, which keeps a cold 1,000,000-listing scan fast.
        """
        version = self.listings.versions[slot]
        bits = _mix(self.seed, 1, slot)
        record = dict(self._prototype(bits % PROTOTYPES))
        member_slot = self.member_slot(slot)
        contract_day = _DAY0 + (bits >> 10) % 3650
        base_price = (50 + (bits >> 22) % 1500) * 1000
        record["listingId"] = self.listing_id(slot)
        # The key is minted at creation: office, first agent, sequence; a transfer keeps it.
        first_agent = self.associate_id(slot % self.initial_associates)
        record["listingKey"] = (
            f"{self.office_number % 100000:05d}{first_agent:0{self._agent_digits}d}"
            f"{slot // self.initial_associates + 1:03d}"
        )
        record["member"] = self.associate_id(member_slot)
        record["listingContractDate"] = _day(contract_day)
        record["listingDate"] = _day(contract_day + (bits >> 34) % 120)
        record["expirationDate"] = _day(contract_day + 270 + 30 * version)
        record["listPrice"] = (
            base_price - version * 1500 if base_price > version * 3000 else base_price + version
        )
        latitude = record["latitude"]
        if latitude:
            shift = ((bits >> 41) % 10_000) / 1_000_000
            record["latitude"] = repr(float(latitude) + shift)
            record["longitude"] = repr(float(record["longitude"]) - shift)
        if version:
            record["standardStatusId"] = (2, 2, 2, 3, 1)[(bits >> 52 + version % 8) % 5]
            for field, note in (
                ("publicRemarks_en", vocab.PRICE_NOTE_EN),
                ("publicRemarks_es", vocab.PRICE_NOTE_ES),
            ):
                if record[field] is not None:
                    record[field] = f"{note}\n{record[field]}"
        status = record["standardStatusId"]
        record["standardStatusId"] = self.status_ids[status - 1]
        return record

    def _prototype(self, number: int) -> JsonDict:
        """One of `PROTOTYPES` fully generated records; listings are overlays of these."""
        cached = self._prototypes.get(number)
        if cached is not None:
            return cached
        r = random.Random(_mix(self.seed, 1, number))
        v = random.Random(_mix(self.seed, 2, number))
        rand = r.random
        country = self.country if rand() < 0.9 else GEO[int(rand() * len(GEO))]
        state = country.states[int(rand() * len(country.states))]
        location = state.locations[int(rand() * len(state.locations))]
        ptype = _TYPES[int(rand() * len(_TYPES))]
        land = ptype in _LAND_TYPES
        kind = ptype - 1
        place = location.name
        title_en = f"{vocab.ADJ_EN[int(rand() * 7)]} {vocab.KIND_EN[kind]} in {place}"
        noun, feminine = vocab.KIND_ES[kind]
        title_es = f"{vocab.ADJ_ES[int(rand() * 7)][feminine]} {noun} en {place}"
        n_feat = 2 + int(rand() * 4)
        first_feature = int(rand() * 10)
        step = _pick(rand(), (1, 3, 7, 9))
        feats = [(first_feature + k * step) % 10 for k in range(n_feat)]
        sep = "\n" if rand() < 0.6 else " "
        remarks_en = sep.join(vocab.FEATURE_EN[i] for i in feats)
        remarks_es = sep.join(vocab.FEATURE_ES[i] for i in feats)
        if rand() < 0.5:
            remarks_en += "\n"
        language = rand()
        bedrooms = None if land else 1 + int(rand() * 6)
        baths = None if land else 1 + int(rand() * 4)
        lot = round(200 + rand() * 4800, 0 if rand() < 0.7 else 2)
        living = None if land else 40 + int(rand() * 400)
        garage_size = None if land else _pick(rand(), (None, 0, 14, 18, 36))
        garage = not land and rand() < 0.5
        owner_first = vocab.FIRST_NAMES[int(rand() * len(vocab.FIRST_NAMES))]
        owner_last = vocab.LAST_NAMES[int(rand() * len(vocab.LAST_NAMES))]
        has_owner = rand() < 0.7
        lat_roll = rand()
        if lat_roll < 0.05:
            latitude: str | None = None
            longitude: str | None = None
        elif lat_roll < 0.1:
            latitude = longitude = ""
        else:
            latitude = repr(country.lat + (rand() - 0.5) * 0.4)
            longitude = repr(country.lon + (rand() - 0.5) * 0.4)
        address_public = rand() < 0.6
        video = f"https://youtu.be/{r.getrandbits(64):016x}"[:28] if rand() < 0.25 else None
        record = {
            "listingId": 0,  # the overlay fills ids, dates, price and member
            "listingKey": "",
            "listingContractType": _CONTRACT_TYPES[0 if rand() < 0.8 else int(rand() * 3)],
            "listingTitle_en": title_en[:75] if language < 0.85 else None,
            "listingTitle_es": title_es[:75] if language > 0.35 else None,
            "publicRemarks_en": remarks_en if language < 0.85 else None,
            "publicRemarks_es": remarks_es if language > 0.35 else None,
            "standardStatusId": 2 if v.random() < 0.85 else (1, 3)[int(v.random() * 2)],
            "listingProbableUseId": 4 if land else _USES[int(rand() * len(_USES))],
            "propertyTypeId": ptype,
            "propertyGeneralLocationId": _GENERAL_LOCATIONS[int(rand() * len(_GENERAL_LOCATIONS))],
            "propertyNewYN": rand() < 0.2,
            "furnishedYN": rand() < 0.4,
            "listingContractDate": "",
            "expirationDate": "",
            "ownerName": f"{owner_first} {owner_last}" if has_owner else None,
            "ownerPhones": f"+{297 + int(rand() * 300)} {5000000 + int(rand() * 4999999)}"
            if has_owner
            else None,
            "ownerEmail": f"{owner_first[0].lower()}.{owner_last.split()[-1].lower()}"
            f"{int(rand() * 100)}@correo.example"
            if has_owner and rand() < 0.6
            else None,
            "listingAgreementYN": 1 if rand() < 0.9 else 0,
            "listingSideComm": _pick(rand(), (2.5, 3.0, 3.5, 5.0)),
            "sellingSideComm": _pick(rand(), (2.5, 2.0, 3.0)),
            "closeListingCommAmount": None,
            "closeSellingCommAmount": None,
            "privateRemarks_en": vocab.PRIVATE_EN[int(rand() * 3)] if rand() < 0.5 else "",
            "privateRemarks_es": vocab.PRIVATE_ES[int(rand() * 3)] if rand() < 0.4 else None,
            "countryId": country.country_id,
            "stateDepProvId": state.state_id,
            "locationId": location.location_id,
            "latitude": latitude,
            "longitude": longitude,
            "mapId": 0,
            "postalCode": f"{10000 + int(rand() * (99999 - 10000))}" if rand() < 0.3 else None,
            "unparsedAddress": f"{vocab.STREETS[int(rand() * len(vocab.STREETS))]} "
            f"{1 + int(rand() * (300 - 1))}, {place}"
            if rand() < 0.7
            else None,
            "unparsedAddressPublicYN": address_public,
            "showingInstruction": vocab.SHOWING[int(rand() * 3)] if rand() < 0.4 else None,
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
            "bedroomsTotal": bedrooms,
            "bedroomsNotes": None,
            "bathroomsFull": baths,
            "bathroomsNotes": None,
            "bathroomsHalf": None if land else int(rand() * 3),
            "bathroomsHalfNotes": None,
            "stories": None if land or rand() < 0.5 else 1 + int(rand() * 3),
            "storiesNotes": None,
            "lotSizeArea": int(lot) if lot == int(lot) else lot,
            "lotSizeUnitsId": 1 if rand() < 0.9 else 2,
            "constructionSizeLiving": living,
            "constructionSizeGarage": garage_size,
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
            "videoLink": video,
            "member": 0,
            "listingDate": "",
            "constructionSizeTotal": None,
            "constructionSize": None if living is None else living + (garage_size or 0),
            "swimmingPoolNotes": "Piscina de agua salada" if rand() < 0.1 else None,
            "seo_title": (title_en if language < 0.85 else title_es)[:60] + "...",
            "seo_description": (remarks_en if language < 0.85 else remarks_es).split("\n")[0],
            "seo_keywords": "Caribbean Real Estate, Central America Real Estate,"
            f"{country.name_en},{country.name_en}",
            "officecode": self.office_code,
        }
        self._prototypes[number] = record
        return record

    # ---- associates --------------------------------------------------------------------

    def associates_page(self, take: int, skip: int) -> list[int]:
        """Slots of one `associates` page: oldest first."""
        order = self.associates.order
        return list(order[skip : skip + take])

    def associate_record(self, slot: int) -> JsonDict:
        version = self.associates.versions[slot]
        r = random.Random(_mix(self.seed, 3, slot))
        v = random.Random(_mix(self.seed, 4, slot, version))
        first = vocab.FIRST_NAMES[r.randrange(len(vocab.FIRST_NAMES))]
        last = vocab.LAST_NAMES[r.randrange(len(vocab.LAST_NAMES))]
        associate_id = self.associate_id(slot)
        state = self.country.states[0]
        handle = _ascii(f"{first[0]}{last}").lower()
        return {
            "associateID": associate_id,
            "remaxID": f"{self.office_code}-{associate_id}",
            "firstName": first,
            "lastName": last,
            "mobile": f"+{297 + self.number} {v.randrange(5000000, 9999999)}",
            "remaxEmail": f"{handle}{version or ''}@remax-{self.key.lower()}.example",
            "birthDay": _day(date(1960, 1, 1).toordinal() + r.randrange(40 * 365)),
            "urlMemberImage": f"https://remax-cca.com/images/members/{associate_id}.jpg"
            if r.random() < 0.8
            else None,
            "officeID": self.office_number,
            "officeName": self.office_name,
            "officeCountryID": self.country.country_id,
            "countryName_en": self.country.name_en,
            "stateDepProvOffice": state.state_id,
            "stateDepProv_en": state.name_en,
            "officeCode": self.office_code,
        }

    # ---- images ------------------------------------------------------------------------

    def images(self, slot: int) -> list[JsonDict]:
        """A listing's images: a seeded base set, then the epochs' edits replayed in order."""
        listing_id = self.listing_id(slot)
        return [
            {
                "ListingId": listing_id,
                "PhotoId": listing_id * 100 + photo.number,
                "Prioridad": photo.priority,
                "ImageUrl": f"https://remax-cca.com/ImagesProperty/{listing_id}/"
                f"{listing_id * 100 + photo.number}_r{photo.revision}.jpg",
                "Status": 0 if photo.hidden else 1,
            }
            for photo in self._photos(slot)
        ]

    def _photos(self, slot: int, extra: tuple[str, int] | None = None) -> list[_Photo]:
        r = random.Random(_mix(self.seed, 5, slot))
        mean = self.images_per_listing
        count = 0 if mean == 0 else max(1, mean + r.randrange(-1, 2))
        count = min(count, MAX_PHOTOS_PER_LISTING)
        photos = [_Photo(n, n, 0, r.random() < 0.05) for n in range(1, count + 1)]
        next_number = count + 1
        ops = self.image_ops.get(slot, [])
        for op, pick in [*ops, extra] if extra else ops:
            if op == "add":
                if next_number <= MAX_PHOTOS_PER_LISTING:
                    priority = max((p.priority for p in photos), default=0) + 1
                    photos.append(_Photo(next_number, priority, 0, False))
                    next_number += 1
            elif photos:
                index = pick % len(photos)
                if op == "remove":
                    del photos[index]
                else:
                    old = photos[index]
                    photos[index] = _Photo(old.number, old.priority, old.revision + 1, old.hidden)
        return photos

    # ---- change ------------------------------------------------------------------------

    def insert_front(self, count: int) -> None:
        """Drift: new listings that sort before everything (newest first)."""
        self.listings.add(count)

    def advance(self, epoch: int, changed: float, removed: float, added: float) -> JsonDict:
        """One epoch of churn for listings, associates and images; returns exact counts.

        The top-level `changed`/`removed`/`added` are the listings' (as in
        `properties`); `associates` and `images` have their own.

        Fractions apply to the live set before the epoch. Listings of removed
        associates are transferred to a remaining one, and count as changed.
        Image edits touch only listings that exist before and after; images of
        removed or added listings come and go with them and are not counted.
        """
        self.epoch = epoch
        rng = random.Random(_mix(self.seed, 6, epoch))
        live_before = len(self.listings)
        k_changed = churn_count(changed, live_before)
        k_removed = churn_count(removed, live_before)
        picked = self.listings.pick(rng, k_changed + k_removed)
        changed_slots = set(picked[:k_changed])
        removed_slots = picked[k_changed:]
        self.listings.remove(removed_slots)

        associates = self._advance_associates(rng, changed, removed, added, changed_slots)
        self.listings.bump(changed_slots)
        images = self._advance_images(rng, changed, removed, added)
        new_listings = self.listings.add(churn_count(added, live_before))
        properties = ChurnCounts(
            len(changed_slots), len(removed_slots), len(new_listings)
        ).to_json()
        return {
            **properties,
            "properties": properties,
            "associates": associates.to_json(),
            "images": images.to_json(),
        }

    def _advance_associates(
        self,
        rng: random.Random,
        changed: float,
        removed: float,
        added: float,
        listings_to_bump: set[int],
    ) -> ChurnCounts:
        live = len(self.associates)
        k_changed = churn_count(changed, live)
        k_removed = min(churn_count(removed, live), live - 1)
        picked = self.associates.pick(rng, k_changed + k_removed)
        self.associates.bump(picked[:k_changed])
        gone = picked[k_changed:]
        self.associates.remove(gone)
        stayers = list(self.associates.order)
        listing_live = self.listings.live
        for slot in gone:
            successor = stayers[rng.randrange(len(stayers))]
            bases = [b for b in range(self.initial_associates) if self.member_slot(b) == slot]
            self.transfers[slot] = successor
            for base in bases:
                for listing in range(base, self.listings.total, self.initial_associates):
                    if listing_live[listing]:
                        listings_to_bump.add(listing)
        new = self.associates.add(churn_count(added, live))
        return ChurnCounts(k_changed, len(gone), len(new))

    def _advance_images(
        self, rng: random.Random, changed: float, removed: float, added: float
    ) -> ChurnCounts:
        base = len(self.listings) * self.images_per_listing
        plan = (
            ["change"] * churn_count(changed, base)
            + ["remove"] * churn_count(removed, base)
            + ["add"] * churn_count(added, base)
        )
        targets = self.listings.pick(rng, len(plan))
        counts = {"change": 0, "remove": 0, "add": 0}
        for op, slot in zip(plan, targets, strict=False):
            edit = (op, rng.getrandbits(32))
            if self._photos(slot) != self._photos(slot, edit):
                self.image_ops.setdefault(slot, []).append(edit)
                counts[op] += 1
        return ChurnCounts(counts["change"], counts["remove"], counts["add"])
