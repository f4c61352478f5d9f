"""Field coercion and column bounds: what a raw value may be, and what it becomes.

- Coordinates arrive as strings (sometimes empty/null/garbage): parsed to numeric,
  anything unparsable or out of range becomes NULL (counted, not rejected).
- `…YN` flags arrive as bools or 0/1: both become bool.
- Dates arrive zone-less (`YYYY-MM-DDTHH:MM:SS`, the office's local time): stored
  as `timestamp without time zone`, exactly as given. A zone, if ever sent, is dropped
  after keeping the wall-clock time.
- Ids are integers or plain ASCII digit strings (not " 13", "+14", "²").
- Every typed field is bounded by its column (`migrations/`): an `Integer` column
  gets `Id32`, a `BigInteger` one `Id`, a `Numeric(p, s)` one `numeric(p, s)`, so a
  value the column cannot hold is a reject, never a failed COPY
  (`tests/integration/test_column_bounds.py` checks them against a migrated database).
- Text, keys and integers anywhere in a record must be storable in Postgres text/jsonb
  and hashable (`unstorable`): no NUL, no lone surrogate, nothing beyond 64 bits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from pydantic import BeforeValidator, Field

MAX_TEXT_CHARS = 65_535
ASCII_DIGITS = re.compile(r"[0-9]{1,20}")
MAX_BIGINT = 2**63 - 1
MAX_INT = 2**31 - 1
"""The largest value of a Postgres `integer` column."""
MAX_INT_DIGITS = 20
"""Longer digit strings are no id we can store (and `int()` refuses past 4,300 digits)."""


def ascii_int(text: str) -> int | None:
    """The integer `text` writes in ASCII digits (optionally signed, spaces around), else None.

    The one guard for numbers given as text: `str.isdigit()` also accepts superscripts
    like "²", which `int()` then refuses with a ValueError.
    """
    digits = text.strip()
    unsigned = digits.removeprefix("-")
    if unsigned.isascii() and unsigned.isdigit() and len(unsigned) <= MAX_INT_DIGITS:
        return int(digits)
    return None


def source_key(source_id: str | None) -> int | None:
    """The storable key (0 to MAX_BIGINT) a reject's source id names, else None."""
    key = None if source_id is None else ascii_int(source_id)
    return key if key is not None and 0 <= key <= MAX_BIGINT else None


def flag(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
        return value.strip().lower() in ("1", "true")
    raise ValueError("expected a bool or 0/1")


def _zone_less(value: Any) -> Any:
    if isinstance(value, str) and value.strip() == "":
        return None
    return value


def drop_zone(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=None) if value is not None and value.tzinfo else value


def numeric(precision: int, scale: int) -> Any:
    """A non-negative number a Postgres `numeric(precision, scale)` column holds: rounded
    to `scale` places as Postgres would (half away from zero), below 10^(precision-scale)
    after rounding; anything else is a validation error."""
    return BeforeValidator(numeric_check(precision, scale))


def numeric_check(precision: int, scale: int) -> Callable[[Any], Decimal | None]:
    """`numeric`'s check itself (a ValueError for a value the column cannot hold), for the
    strict path (`sync/strict.py`), which must round exactly as the model does."""
    limit = Decimal(10) ** (precision - scale)
    step = Decimal(1).scaleb(-scale)

    def check(value: Any) -> Decimal | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ValueError("expected a number, got a bool")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError("expected a number") from None
        if number.is_finite() and 0 <= number < limit:
            number = number.quantize(step, rounding=ROUND_HALF_UP)
            if number < limit:
                return number
        raise ValueError(f"absurd value (must be at least 0 and below {limit:.0e})")

    return check


def _text(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"string longer than {MAX_TEXT_CHARS} characters")
    return value


def _plain_id(value: Any) -> Any:
    """An id is an integer or a string of plain ASCII digits: not a bool, not " 13",
    "+14" or "²" (which pydantic's lax mode or `str.isdigit()` would take)."""
    if isinstance(value, bool):
        raise ValueError("expected an integer id, got a bool")
    if isinstance(value, str) and value != "" and not ASCII_DIGITS.fullmatch(value):
        raise ValueError("expected an id of plain ASCII digits")
    return value


def web_url(value: Any) -> Any:
    """http/https with a host only: a website puts this in `src` (no `javascript:`)."""
    value = _text(value)
    if value:
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("only http and https URLs are stored")
    return value


Flag = Annotated[bool | None, BeforeValidator(flag)]
WebUrl = Annotated[str | None, BeforeValidator(web_url)]
Key = Annotated[int, BeforeValidator(_plain_id), Field(ge=1, le=MAX_BIGINT)]
Text = Annotated[str | None, BeforeValidator(_text)]
Money = Annotated[Decimal | None, numeric(18, 2)]
"""A `Numeric(18, 2)` column: prices, closing commission amounts."""
Size = Annotated[Decimal | None, numeric(18, 2)]
"""A `Numeric(18, 2)` column: lot and construction sizes."""
Commission = Annotated[Decimal | None, numeric(18, 4)]
"""A `Numeric(18, 4)` column: listing/selling side commissions."""
MAX_COUNT = 10_000
Count = Annotated[int | None, Field(ge=0, le=MAX_COUNT)]
"""Rooms: an `Integer` column, bounded tighter on purpose (more is a broken record)."""
Id = Annotated[int | None, Field(ge=0, le=MAX_BIGINT), BeforeValidator(_plain_id)]
"""An id in a `BigInteger` column."""
Id32 = Annotated[int | None, Field(ge=0, le=MAX_INT), BeforeValidator(_plain_id)]
"""An id in an `Integer` column (catalogue values: contract type, status, units...)."""
LocalDate = Annotated[datetime | None, BeforeValidator(_zone_less)]


COORDINATE_STEP = Decimal("0.0000001")


def coordinate(value: Any, limit: int) -> Decimal | None:
    """A coordinate string → numeric(10,7), or None when empty, garbage or out of range."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) > limit:
        return None
    return number.quantize(COORDINATE_STEP)


def unstorable_text(raw: dict[str, Any]) -> str | None:
    """What Postgres text/jsonb or the content hash cannot hold, anywhere in the record (nested
    values and keys too): NUL, lone surrogates, integers beyond 64 bits. Such a record is
    rejected, not crashed on.

    Fast path: orjson refuses lone surrogates, non-text keys and (with
    OPT_STRICT_INTEGER) integers beyond 53 bits, and writes a NUL as `\\u0000`; a record
    it encodes without any of these is storable. Anything else takes the exact walk,
    which names the offending field (a backslash + "u0000" in text only costs the walk)."""
    try:
        encoded = orjson.dumps(raw, option=orjson.OPT_STRICT_INTEGER)
    except TypeError:
        return unstorable(raw)
    return unstorable(raw) if b"\\u0000" in encoded else None


def unstorable(value: Any, where: str = "") -> str | None:
    if isinstance(value, str):
        if "\x00" in value:
            return f"{where or 'record'}: contains a NUL byte"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where or 'record'}: text is not valid Unicode"
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not -(2**63) <= value <= MAX_BIGINT:
            return f"{where or 'record'}: integer out of the 64-bit range"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            problem = unstorable(key, name) if isinstance(key, str) else None
            problem = problem or unstorable(item, name)
            if problem:
                return problem
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = unstorable(item, f"{where}[{index}]")
            if problem:
                return problem
    return None
