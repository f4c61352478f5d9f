"""Everything that shapes one sandbox run: data size, token lifetime, limits, fault knobs.

Each setting is declared once, as a dataclass field whose `Knob` metadata holds
its `rei-sync sandbox` help and its check; the CLI's options (`options.py`) and
the admin API's fault changes (`FaultSettings.updated`) are derived from those
declarations. The fault knobs form `FaultSettings`, which the admin API can
replace at run time; `SandboxConfig` holds one (`faults`) and also takes its
knobs as keywords, `SandboxConfig(error_rate=0.1)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
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
OUTAGE_MODES: tuple[OutageMode, ...] = ("5xx", "refuse")

Check = Callable[[str, Any], Any]
"""A knob's check: (name, value from admin JSON or a caller) → the value to keep, or ValueError."""


def _as_is(name: str, value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Knob:
    """What a setting's declaration says besides its type and default."""

    help: str
    """Its `rei-sync sandbox` option's help."""
    check: Check = _as_is
    flag: str = ""
    """The option's name when it is not the field's (a repeatable one is singular)."""
    comma_list: bool = False
    """The option takes the tuple as one comma-separated value."""
    cli_default: Any = None
    """The option's default when it is not the field's (None: the field's)."""
    cli_item: Callable[[Any], Any] | None = None
    """Applied to each value of a repeatable option."""


def knob(default: Any, help: str, check: Check = _as_is, **cli: Any) -> Any:
    """A dataclass field with its `Knob` (typed `Any` so it fits any field's annotation).

    Ruff's RUF009 takes it for a call made once for every instance; it is `field()`.
    """
    return field(default=default, metadata={"knob": Knob(help, check, **cli)})


def knob_of(declared: Field[Any]) -> Knob | None:
    found: Knob | None = declared.metadata.get("knob")
    return found


def one_of(choices: tuple[str, ...]) -> str:
    """`'a', 'b' or 'c'`."""
    quoted = [f"'{c}'" for c in choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _share(name: str, value: Any) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")
    return number


def _not_below_zero(
    convert: Callable[[Any], float], complaint: str, *, bools: bool = True
) -> Check:
    """A check converting the value (int or float) and refusing it below 0 (or a bool)."""

    def check(name: str, value: Any) -> Any:
        if not bools and isinstance(value, bool):
            raise ValueError(f"{name} {complaint}")
        number = convert(value)
        if number < 0:
            raise ValueError(f"{name} {complaint}")
        return number

    return check


_non_negative = _not_below_zero(float, "must not be negative")
_count = _not_below_zero(int, "must not be negative (0 = off)")
"""A count where 0 turns the knob off."""
_limit = _not_below_zero(int, "must be a whole number, 0 for off", bools=False)


def _whole(name: str, value: Any) -> int:
    return int(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


def _choice(choices: tuple[str, ...]) -> Check:
    def check(name: str, value: Any) -> Any:
        if value not in choices:
            raise ValueError(f"{name} must be {one_of(choices)}")
        return value

    return check


def _statuses(name: str, value: Any) -> tuple[int, ...]:
    statuses = tuple(int(s) for s in value)
    if not statuses or any(not 500 <= s <= 599 for s in statuses):
        raise ValueError("error_statuses must be a non-empty list of 5xx codes")
    return statuses


def _offsets(name: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError("failing_offsets must be a list of offsets")
    offsets = tuple(sorted({int(o) for o in value}))
    if any(o < 0 for o in offsets):
        raise ValueError("failing_offsets must be offsets of 0 or more")
    return offsets


def _listing_ids(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in value
    ):
        raise ValueError("failing_images_ids must be a list of listing ids")
    return tuple(value)


@dataclass(frozen=True)
class TokenOutage:
    """The token endpoint fails for `seconds` (sandbox clock) from the moment it is set."""

    mode: OutageMode = knob("5xx", "Token endpoint outage at start: '5xx' or 'refuse'.")
    seconds: float = knob(60.0, "Length of that outage (sandbox clock).")


def _token_outage(name: str, value: Any) -> TokenOutage | None:
    if value is None:
        return None
    if isinstance(value, TokenOutage):
        value = {"mode": value.mode, "seconds": value.seconds}
    if not isinstance(value, dict):
        raise ValueError("token_outage must be an object or null")
    mode = value.get("mode", "5xx")
    if mode not in OUTAGE_MODES:
        raise ValueError("token_outage.mode must be '5xx' or 'refuse'")
    return TokenOutage(mode=mode, seconds=float(value.get("seconds", 60.0)))


@dataclass(frozen=True)
class FaultSettings:
    """Fault knobs. Rates are probabilities per API request, drawn from one seeded stream."""

    error_rate: float = knob(0.0, "Share of API requests answered 5xx.", _share)
    error_statuses: tuple[int, ...] = knob(
        (500, 502, 503),
        "5xx status to draw from (repeatable; 500/502/503).",
        _statuses,
        flag="error_status",
    )
    reset_rate: float = knob(0.0, "Share of API requests reset (RST).", _share)
    stall_rate: float = knob(0.0, "Share of API requests that stall.", _share)
    stall_seconds: float = knob(35.0, "How long a stall lasts.", _non_negative)
    rate_limit_rate: float = knob(0.0, "Share of API requests answered 429 + Retry-After.", _share)
    retry_after_seconds: int = knob(
        1, "Retry-After on 429 (seconds, or now + that as an HTTP-date).", _whole
    )
    malformed_rate: float = knob(
        0.0, "Share of list/detail answers with malformed records.", _share
    )
    html_page_rate: float = knob(
        0.0, "Share of API requests answered 200 with an HTML page.", _share
    )
    latency_ms: float = knob(0.0, "Fixed latency added to API requests.", _non_negative)
    latency_jitter_ms: float = knob(
        0.0, "Extra random latency (0..jitter) per API request.", _non_negative
    )
    token_latency_seconds: float = knob(
        0.0, "Delay before the token endpoint answers.", _non_negative
    )
    token_outage: TokenOutage | None = knob(None, "A token endpoint outage.", _token_outage)
    """On the command line, `--token-outage-mode` (which sets it) and `--token-outage-seconds`."""
    drift: bool = knob(False, "Insert new listings at the front between page requests.", _flag)
    drift_inserts: int = knob(1, "Listings inserted per drifting request.", _whole)
    fault_seed: int = knob(1, "Seed of the fault decisions.", _whole)
    token_max_requests: int = knob(
        0, "Revoke every token after this many API requests (0 = never).", _count
    )
    key_rotation_every_requests: int = knob(
        0, "Every n-th API request voids every token issued so far (0 = never).", _count
    )
    retry_after_format: RetryAfterFormat = knob(
        "seconds", "Retry-After as 'seconds' or as an 'http-date'.", _choice(RETRY_AFTER_FORMATS)
    )
    retry_after_on_503: bool = knob(
        False, "503 answers carry Retry-After too (429 always does).", _flag
    )
    page_cap: int = knob(
        0, "List pages answer at most N records whatever take asked (0: off).", _limit
    )
    take_limit: int = knob(
        0, "A take above N is answered with the invalid-request 404 (0: off).", _limit
    )
    """Below `max_take`; 0 leaves only `max_take`."""
    truncated_rate: float = knob(
        0.0, "Share of API 200 answers whose JSON body is cut short.", _share
    )
    failing_offsets: tuple[int, ...] = knob(
        (),
        "A list page covering this offset always answers 500 (repeatable).",
        _offsets,
        flag="failing_offset",
    )
    failing_images_rate: float = knob(
        0.0, "Share of listings whose images always fail (by id and seed).", _share
    )
    """Chosen per listing id and `fault_seed`, besides the `failing_images_ids`."""
    failing_images_ids: tuple[int, ...] = knob(
        (),
        "A listing whose images always fail (repeatable).",
        _listing_ids,
        flag="failing_images_id",
    )
    failing_images_mode: ImageFailureMode = knob(
        "500",
        "How they fail: '500', 'not_json' (200, cut-off body) or "
        "'model_state_404' (the invalid-request 404).",
        _choice(IMAGE_FAILURE_MODES),
    )

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("error_statuses", "failing_offsets", "failing_images_ids"):
            out[name] = list(out[name])
        outage = self.token_outage
        out["token_outage"] = (
            None if outage is None else {"mode": outage.mode, "seconds": outage.seconds}
        )
        return out

    def updated(self, changes: dict[str, Any]) -> FaultSettings:
        """A copy with `changes` (admin JSON) applied; raises ValueError on unknown/bad knobs."""
        declared = {f.name: f for f in fields(self)}
        unknown = sorted(set(changes) - set(declared))
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(unknown)}")
        values = {name: getattr(self, name) for name in declared}
        for name, value in changes.items():
            found = knob_of(declared[name])
            values[name] = value if found is None else found.check(name, value)
        return FaultSettings(**values)


FAULT_KNOBS = frozenset(f.name for f in fields(FaultSettings))


@dataclass(frozen=True, init=False)
class SandboxConfig:
    """One `rei-sync sandbox` run. Sizes are per brand.

    Takes its fields, and each `FaultSettings` knob, as keywords (checked as the
    admin API checks them): `SandboxConfig(seed=3, error_rate=0.1)`.
    """

    seed: int = knob(7, "Seed for all generated data and keys.")
    listings: int = knob(200, "Listings per brand (1,000,000 is fine).")
    associates: int = knob(30, "Associates (agents) per brand.")
    images_per_listing: int = knob(3, "Mean images per listing.")
    token_ttl: int = knob(DEFAULT_TOKEN_TTL_SECONDS, "Token lifetime in seconds (expires_in).")
    max_take: int = knob(1000, "Largest page size accepted by take.")
    host: str = knob("127.0.0.1", "Interface to listen on.")
    port: int = knob(0, "Port to listen on (0 = any free port).", cli_default=8765)
    brands: tuple[str, ...] = knob(
        DEFAULT_BRANDS,
        "Brand key to seed (repeatable). Default: AZURA and BLUE_OCEAN.",
        flag="brand",
        cli_item=str.upper,
    )
    faults: FaultSettings = FaultSettings()
    record_cache: int = 200_000
    """How many serialised records to keep (bounded: 1,000,000 listings must not all stay)."""
    status_ids: tuple[int, ...] = knob(
        STANDARD_STATUS_IDS,
        "Ids of the 7 standard statuses (Coming Soon, Active, Active Under Contract, "
        "Pending, Sold, Expired, Cancelled), comma-separated.",
        comma_list=True,
    )
    """The ids this server gives its standard statuses (`STANDARD_STATUS_IDS` order)."""
    removed_listings: RemovedListings = knob(
        "not_found",
        "GetPropertyDetails of a removed listing: 'not_found' (404) or "
        "'offline_status' (200, status Sold/Expired/Cancelled).",
    )

    def __init__(self, *, faults: FaultSettings | None = None, **options: Any) -> None:
        knobs = {name: options.pop(name) for name in FAULT_KNOBS & options.keys()}
        for declared in fields(self):
            if declared.name != "faults":
                object.__setattr__(
                    self, declared.name, options.pop(declared.name, declared.default)
                )
        if options:
            raise TypeError(
                f"SandboxConfig got unexpected keyword(s): {', '.join(sorted(options))}"
            )
        base = FaultSettings() if faults is None else faults
        object.__setattr__(self, "faults", base.updated(knobs))
        self._check()

    def _check(self) -> None:
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
