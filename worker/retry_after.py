"""`Retry-After` (RFC 9110 §10.2.3): seconds to wait, from either of its two forms.

The header is `delay-seconds` ("120") or an `HTTP-date` ("Fri, 31 Dec 1999 23:59:59
GMT"). A date is turned into seconds from `now` (the caller's wall clock, epoch
seconds), so a server that prefers dates is not retried early. Shared by the API
client and the Supabase REST sink; it sits below both, with the clock and errors.
"""

from __future__ import annotations

import math
from datetime import UTC
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """Seconds to wait before retrying, or None if `value` is absent or unreadable.

    A date in the past, or a negative number, is 0: the server allows a retry now.
    A date without a zone is read as UTC (RFC 9110 dates are always GMT).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until_date(text, now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _seconds_until_date(text: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
