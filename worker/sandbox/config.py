"""Everything that shapes one sandbox run: data size, token lifetime, limits, fault knobs.

The fault knobs live flat on `SandboxConfig` (one field per CLI flag) and are
copied into a `FaultSettings` that the admin API can replace at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

DEFAULT_BRANDS = ("AZURA", "BLUE_OCEAN")
DEFAULT_TOKEN_TTL_SECONDS = 86399
"""What the live server answers in `expires_in` (about 24 h)."""

OutageMode = Literal["5xx", "refuse"]
RetryAfterFormat = Literal["seconds", "http-date"]
RETRY_AFTER_FORMATS: tuple[RetryAfterFormat, ...] = ("seconds", "http-date")
ImageFailureMode = Literal["500", "not_json", "model_state_404"]
RemovedListings = Literal["not_found", "offline_status"]
REMOVED_LISTINGS: tuple[RemovedListings, ...] = ("not_found", "offline_status")
"""How `GetPropertyDetails` answers a listing an epoch removed: the API's 404 "not
found", or 200 with its record carrying an offline status (Sold, Expired, Cancelled)."""
STANDARD_STATUS_IDS = (1, 2, 3, 4, 5, 6, 7)
"""The ids of Coming Soon, Active, Active Under Contract, Pending, Sold, Expired and
Cancelled (the `StandardStatus` catalogue), in that order."""
IMAGE_FAILURE_MODES: tuple[ImageFailureMode, ...] = ("500", "not_json", "model_state_404")
"""How a failing listing's `propertyimages/{id}` answers, every time: HTTP 500; HTTP 200
with a body that is not JSON; the API's invalid-request 404 with `ModelState`."""


@dataclass(frozen=True)
class TokenOutage:
    """The token endpoint fails for `seconds` (sandbox clock) from the moment it is set."""

    mode: OutageMode = "5xx"
    seconds: float = 60.0


@dataclass(frozen=True)
class FaultSettings:
    """Fault knobs. Rates are probabilities per API request, drawn from one seeded stream."""

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    reset_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 35.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    malformed_rate: float = 0.0
    html_page_rate: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    token_latency_seconds: float = 0.0
    token_outage: TokenOutage | None = None
    drift: bool = False
    drift_inserts: int = 1
    fault_seed: int = 1
    # revocation and Retry-After form (0 = off)
    token_max_requests: int = 0
    """Every token is revoked after answering this many authenticated API requests."""
    key_rotation_every_requests: int = 0
    """Every n-th API request rotates the signing key: every token issued so far dies."""
    retry_after_format: RetryAfterFormat = "seconds"
    """`Retry-After` as delay-seconds or as an HTTP-date (now + `retry_after_seconds`)."""
    retry_after_on_503: bool = False
    """503 answers carry `Retry-After` too (as 429 always does)."""
    page_cap: int = 0
    """List endpoints answer at most this many records whatever `take` asked (0: off)."""
    take_limit: int = 0
    """A `take` above this is refused with the invalid-request 404 (0: only `max_take`)."""
    truncated_rate: float = 0.0
    """Share of 200 answers whose JSON body is cut short (undecodable)."""
    failing_offsets: tuple[int, ...] = ()
    """A list page covering one of these offsets answers 500, every time."""
    failing_images_rate: float = 0.0
    """Share of listings whose image answer always fails (chosen per listing id and seed)."""
    failing_images_ids: tuple[int, ...] = ()
    """Listing ids whose image answer always fails, besides those `failing_images_rate` picks."""
    failing_images_mode: ImageFailureMode = "500"

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["error_statuses"] = list(self.error_statuses)
        out["failing_offsets"] = list(self.failing_offsets)
        out["failing_images_ids"] = list(self.failing_images_ids)
        outage = self.token_outage
        out["token_outage"] = (
            None if outage is None else {"mode": outage.mode, "seconds": outage.seconds}
        )
        return out

    def updated(self, changes: dict[str, Any]) -> FaultSettings:
        """A copy with `changes` (admin JSON) applied; raises ValueError on unknown/bad knobs."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(unknown)}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in changes.items():
            values[name] = _coerce(name, value)
        return FaultSettings(**values)


_RATES = ("error_rate", "reset_rate", "stall_rate", "rate_limit_rate", "malformed_rate")
_RATES_ALL = (*_RATES, "html_page_rate", "truncated_rate", "failing_images_rate")


def _coerce_failing_images(name: str, value: Any) -> Any:
    if name == "failing_images_mode":
        if value not in IMAGE_FAILURE_MODES:
            raise ValueError(f"failing_images_mode must be one of {', '.join(IMAGE_FAILURE_MODES)}")
        return value
    if isinstance(value, (str, bytes)) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in value
    ):
        raise ValueError("failing_images_ids must be a list of listing ids")
    return tuple(value)


def _coerce(name: str, value: Any) -> Any:
    if name in ("failing_images_mode", "failing_images_ids"):
        return _coerce_failing_images(name, value)
    if name == "token_outage":
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError("token_outage must be an object or null")
        mode = value.get("mode", "5xx")
        if mode not in ("5xx", "refuse"):
            raise ValueError("token_outage.mode must be '5xx' or 'refuse'")
        return TokenOutage(mode=mode, seconds=float(value.get("seconds", 60.0)))
    if name == "error_statuses":
        statuses = tuple(int(s) for s in value)
        if not statuses or any(not 500 <= s <= 599 for s in statuses):
            raise ValueError("error_statuses must be a non-empty list of 5xx codes")
        return statuses
    if name in ("drift", "retry_after_on_503"):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if name == "retry_after_format":
        if value not in RETRY_AFTER_FORMATS:
            raise ValueError("retry_after_format must be 'seconds' or 'http-date'")
        return value
    if name in ("token_max_requests", "key_rotation_every_requests"):
        count = int(value)
        if count < 0:
            raise ValueError(f"{name} must not be negative (0 = off)")
        return count
    if name in ("fault_seed", "retry_after_seconds", "drift_inserts"):
        return int(value)
    if name in ("page_cap", "take_limit"):
        if isinstance(value, bool) or int(value) < 0:
            raise ValueError(f"{name} must be a whole number, 0 for off")
        return int(value)
    if name == "failing_offsets":
        if not isinstance(value, list | tuple):
            raise ValueError("failing_offsets must be a list of offsets")
        offsets = tuple(sorted({int(o) for o in value}))
        if any(o < 0 for o in offsets):
            raise ValueError("failing_offsets must be offsets of 0 or more")
        return offsets
    number = float(value)
    if name in _RATES_ALL and not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number


@dataclass(frozen=True)
class SandboxConfig:
    """One field per `rei-sync sandbox` flag. Sizes are per brand."""

    seed: int = 7
    listings: int = 200
    associates: int = 30
    images_per_listing: int = 3
    token_ttl: int = DEFAULT_TOKEN_TTL_SECONDS
    max_take: int = 1000
    host: str = "127.0.0.1"
    port: int = 0
    brands: tuple[str, ...] = DEFAULT_BRANDS
    record_cache: int = 200_000
    """How many serialised records to keep (bounded: 1,000,000 listings must not all stay)."""
    status_ids: tuple[int, ...] = STANDARD_STATUS_IDS
    """The ids this server gives its standard statuses (`STANDARD_STATUS_IDS` order)."""
    removed_listings: RemovedListings = "not_found"

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    reset_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 35.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    malformed_rate: float = 0.0
    html_page_rate: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    token_latency_seconds: float = 0.0
    token_outage: TokenOutage | None = None
    drift: bool = False
    drift_inserts: int = 1
    fault_seed: int = 1
    token_max_requests: int = 0
    key_rotation_every_requests: int = 0
    retry_after_format: RetryAfterFormat = "seconds"
    retry_after_on_503: bool = False
    page_cap: int = 0
    take_limit: int = 0
    truncated_rate: float = 0.0
    failing_offsets: tuple[int, ...] = ()
    failing_images_rate: float = 0.0
    failing_images_ids: tuple[int, ...] = ()
    failing_images_mode: ImageFailureMode = "500"

    def __post_init__(self) -> None:
        if self.listings < 0 or self.associates < 1 or self.images_per_listing < 0:
            raise ValueError("listings >= 0, associates >= 1, images_per_listing >= 0")
        if self.token_ttl < 1 or self.max_take < 1:
            raise ValueError("token_ttl and max_take must be at least 1")
        if not self.brands:
            raise ValueError("at least one brand is needed")
        ids = self.status_ids
        if len(ids) != len(STANDARD_STATUS_IDS) or len(set(ids)) != len(ids) or min(ids) < 1:
            raise ValueError("status_ids must be 7 distinct positive ids")
        if self.removed_listings not in REMOVED_LISTINGS:
            raise ValueError(f"removed_listings must be one of {', '.join(REMOVED_LISTINGS)}")
        for brand in self.brands:
            if not brand or not brand.replace("_", "").isalnum() or brand != brand.upper():
                raise ValueError(f"brand key {brand!r} must be UPPER_CASE letters/digits")
        self.fault_settings()

    def fault_settings(self) -> FaultSettings:
        names = {f.name for f in fields(FaultSettings)}
        base = FaultSettings()
        changes = {name: getattr(self, name) for name in names}
        if self.token_outage is not None:
            changes["token_outage"] = {
                "mode": self.token_outage.mode,
                "seconds": self.token_outage.seconds,
            }
        return base.updated(changes)
