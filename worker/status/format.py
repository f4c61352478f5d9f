"""Pure text formatting of spans, durations, ages and clock times for the status page."""

from __future__ import annotations

from worker.clock import to_datetime

NOTHING = "—"


def span(seconds: float) -> str:
    """A non-negative span, two units at most: `45s`, `4m 05s`, `2h 03m`, `3d 04h`."""
    whole = int(max(0.0, seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def duration(seconds: float | None) -> str:
    """A run's duration: tenths below a minute (`0.4s`, `12.3s`), else a `span`."""
    if seconds is None:
        return NOTHING
    if seconds < 60:
        return f"{max(0.0, seconds):.1f}s"
    return span(seconds)


def relative(at: float | None, now: float) -> str:
    """`in 4m 05s`, `4m 05s ago`, `now` (within a second), or `—` when unknown."""
    if at is None:
        return NOTHING
    delta = at - now
    if abs(delta) < 1:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(-delta)} ago"


def clock_time(at: float | None) -> str:
    """UTC wall time to the second, ISO style: `2026-11-28 14:03:05 UTC`."""
    if at is None:
        return NOTHING
    return to_datetime(at).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(at: float | None) -> str | None:
    """ISO 8601 in UTC for machine readers (the JSON and `<time datetime>`)."""
    if at is None:
        return None
    return to_datetime(at).isoformat(timespec="seconds")


def one_line(text: str | None, limit: int = 240) -> str | None:
    """Free text (an error) as one line, cut at `limit` characters."""
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def first_line(text: str | None, limit: int = 240) -> str | None:
    """Free text (an error, a reason) as its first non-blank line only, cut at `limit`.

    Tracebacks, SQL and response bodies follow on later lines; the page, the JSON and
    the CLI show what went wrong, not the whole story (that is in the log).
    """
    if text is None:
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    return one_line(lines[0] if lines else "", limit)
