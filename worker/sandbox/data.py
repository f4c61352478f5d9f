"""One brand's data: listings, associates and images derived from (seed, brand, slot, version).

Nothing is materialised: a record is generated when asked for, from two seeded
random streams — one per slot for what never changes (address, size, agent's
slot), one per (slot, version) for what an epoch's "change" alters (price,
remarks, expiry). Serialised records are kept in a bounded cache keyed by
(slot, version), so repeat scans cost a dictionary lookup per record.
"""

from __future__ import annotations

import random
import threading
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import orjson

from worker.sandbox import vocabulary as vocab
from worker.sandbox.catalogue import GEO, Country
from worker.sandbox.population import Population, churn_count
from worker.sandbox.prototype import build_prototype
from worker.sandbox.seeds import JsonDict, day, mix

FIRST_LISTING_ID = 10_000
FIRST_ASSOCIATE_ID = 200
MAX_PHOTOS_PER_LISTING = 99
PROTOTYPES = 1024
"""Distinct generated bodies per brand; each listing overlays ids, dates, price, position."""
_DAY0 = date(2015, 1, 1).toordinal()


def _ascii(text: str) -> str:
    """Letters only, accents dropped: 'Núñez' → 'Nunez' (e-mail local parts)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded if c.isalnum())


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
        self.seed = mix(seed, zlib.crc32(key.encode()))
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

    def _slot(self, record_id: int, first_id: int) -> int | None:
        """The slot an id of this brand's (counting from `first_id`) names, else None."""
        offset = record_id - first_id
        if offset < 0 or offset % self.brand_count != self.number:
            return None
        return offset // self.brand_count

    def listing_slot(self, listing_id: int) -> int | None:
        """The live slot of one of this brand's listing ids, else None (other brand, gone)."""
        slot = self._slot(listing_id, FIRST_LISTING_ID)
        return slot if slot is not None and self.listings.is_live(slot) else None

    def removed_listing_slot(self, listing_id: int) -> int | None:
        """The slot of one of this brand's listings that an epoch removed, else None."""
        slot = self._slot(listing_id, FIRST_LISTING_ID)
        if slot is None or slot >= self.listings.total or self.listings.is_live(slot):
            return None
        return slot

    def offline_json(self, slot: int) -> bytes:
        """A removed listing's record as the details answer may still give it: offline
        (Sold, Expired or Cancelled, by slot), in this server's status ids."""
        record = self.property_record(slot)
        record["standardStatusId"] = self.status_ids[4 + slot % 3]
        return orjson.dumps(record)

    def associate_id(self, slot: int) -> int:
        return FIRST_ASSOCIATE_ID + slot * self.brand_count + self.number

    def associate_slot(self, associate_id: int) -> int | None:
        slot = self._slot(associate_id, FIRST_ASSOCIATE_ID)
        return slot if slot is not None and self.associates.is_live(slot) else None

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
        bits = mix(self.seed, 1, slot)
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
        record["listingContractDate"] = day(contract_day)
        record["listingDate"] = day(contract_day + (bits >> 34) % 120)
        record["expirationDate"] = day(contract_day + 270 + 30 * version)
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
        if cached is None:
            cached = build_prototype(self.seed, number, self.country, self.office_code)
            self._prototypes[number] = cached
        return cached

    # ---- associates --------------------------------------------------------------------

    def associates_page(self, take: int, skip: int) -> list[int]:
        """Slots of one `associates` page: oldest first."""
        order = self.associates.order
        return list(order[skip : skip + take])

    def associate_record(self, slot: int) -> JsonDict:
        version = self.associates.versions[slot]
        r = random.Random(mix(self.seed, 3, slot))
        v = random.Random(mix(self.seed, 4, slot, version))
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
            "birthDay": day(date(1960, 1, 1).toordinal() + r.randrange(40 * 365)),
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
        r = random.Random(mix(self.seed, 5, slot))
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
        rng = random.Random(mix(self.seed, 6, epoch))
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
