"""Is a listing status "online"? Decided from what the API says, not from fixed ids.

The list endpoint shows only online listings, so the statuses seen on a complete
scan of it are online statuses. A delisting candidate whose details still answer
with one of them is online (the scan missed it). Any other status is looked up in
the API's standard-status catalogue (`lookups/names` → the `StandardStatus` lookup
→ its values): a value named like an online state (active, coming soon, pending,
under contract, in English or Spanish) is online; every other status (sold, expired,
cancelled, withdrawn, one the catalogue does not know) is not. The catalogue is
asked for at most once per run, and only when such a status turns up; when it
cannot be read the answer is "unknown" and the caller keeps the listing.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any

from worker.api.client import ReiClient
from worker.api.endpoints import LOOKUP_NAMES_PATH, as_list, lookup_values_path
from worker.db.schema import Row
from worker.errors import ReiSyncError
from worker.log import get_logger
from worker.sync.failures import is_per_listing
from worker.sync.normalise import ascii_int
from worker.sync.records import lookup_value_normaliser, normalise_lookup

log = get_logger(__name__)

STATUS_CATALOGUE = "standardstatus"
"""The catalogue's name, lower-cased without separators (`StandardStatus`)."""
OFFLINE_WORDS = (
    "inactiv",
    "sold",
    "expired",
    "cancel",
    "withdrawn",
    "closed",
    "off market",
    "terminated",
    "deleted",
    "removed",
    "archived",
    "leased",
    "rented",
    "vendid",
    "vencid",
    "retirad",
    "cerrad",
    "eliminad",
    "alquilad",
    "arrendad",
    "suspendid",
    "fuera del mercado",
)
"""Checked first: "Inactive" contains "active"."""
ONLINE_WORDS = (
    "active",
    "activa",
    "activo",
    "coming soon",
    "proximamente",
    "pending",
    "pendiente",
    "under contract",
    "bajo contrato",
    "contingent",
    "available",
    "disponible",
    "for sale",
    "en venta",
)


def _folded(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


def label_is_online(labels: Iterable[str | None]) -> bool | None:
    """What a catalogue value's labels say: True online, False offline, None neither."""
    words = [_folded(label) for label in labels if label]
    if any(offline in word for word in words for offline in OFFLINE_WORDS):
        return False
    if any(online in word for word in words for online in ONLINE_WORDS):
        return True
    return None


def status_key(value: Any) -> int | None:
    """A status id as the API may write it (an int, or digits as text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return ascii_int(value) if isinstance(value, str) else None


class OnlineStatuses:
    """The run's view of which status values mean "online" (thread-safe)."""

    def __init__(self, client: ReiClient, seen_online: Iterable[Any]) -> None:
        self._client = client
        self._seen = frozenset(status_key(s) for s in seen_online) - {None}
        self._lock = threading.Lock()
        self._catalogue: dict[int, bool | None] | None = None
        self._unavailable = False

    def is_online(self, status: Any) -> bool | None:
        """True: online; False: not online; None: cannot tell (no status, no catalogue)."""
        status = status_key(status)
        if status is None:
            return None
        if status in self._seen:
            return True
        catalogue = self._load()
        if catalogue is None:
            return None
        return catalogue.get(status) is True

    def _load(self) -> dict[int, bool | None] | None:
        with self._lock:
            if self._catalogue is None and not self._unavailable:
                try:
                    self._catalogue = _read_catalogue(self._client)
                except ReiSyncError as exc:
                    if not is_per_listing(exc):
                        raise
                    self._unavailable = True
                    log.warning(
                        "sync.status_catalogue_unavailable",
                        brand=self._client.brand.key,
                        error=type(exc).__name__,
                    )
            return self._catalogue


def _read_catalogue(client: ReiClient) -> dict[int, bool | None]:
    """Status id → what its labels say. A catalogue without `StandardStatus` is empty."""
    names = [
        normalise_lookup(item) for item in as_list(client.get_json(LOOKUP_NAMES_PATH), "names")
    ]
    ids = [
        row.source_id
        for row in names
        if isinstance(row, Row)
        and _folded(str(row.public.get("name") or "")).replace(" ", "") == STATUS_CATALOGUE
    ]
    if not ids:
        return {}
    path = lookup_values_path(ids[0])
    values = [
        lookup_value_normaliser(ids[0])(item) for item in as_list(client.get_json(path), path)
    ]
    return {
        row.source_id: label_is_online((row.public.get("name_en"), row.public.get("name_es")))
        for row in values
        if isinstance(row, Row)
    }
