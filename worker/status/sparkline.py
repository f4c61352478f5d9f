"""Inline SVG sparklines of the last runs: duration (solid) and row changes (dashed).

Each series is scaled to its own maximum, so both use the full height; the
`aria-label` and `<title>` say the ranges in words for screen readers and
for anyone who cannot tell the lines apart. Failed runs get a cross mark
on the duration line. No script, no external asset: plain SVG text.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from worker.status import format as fmt
from worker.status.view import Point

WIDTH = 120
HEIGHT = 32
PAD = 3
BAD = ("failed", "delist_guard_tripped")


def _coords(values: Sequence[float], count: int) -> list[tuple[float, float]]:
    top = max(values, default=0.0) or 1.0
    step = (WIDTH - 2 * PAD) / (count - 1) if count > 1 else 0.0
    x0 = PAD if count > 1 else WIDTH / 2
    usable = HEIGHT - 2 * PAD
    return [(x0 + i * step, HEIGHT - PAD - usable * (v / top)) for i, v in enumerate(values)]


def _line(points: list[tuple[float, float]], css: str) -> str:
    if len(points) == 1:
        x, y = points[0]
        return f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>'
    text = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline class="{css}" fill="none" points="{text}"/>'


def describe(points: Sequence[Point]) -> str:
    """The sparkline in words (its accessible name)."""
    if not points:
        return "no runs yet"
    durations = [p.duration_seconds for p in points if p.duration_seconds is not None]
    changes = [p.changes for p in points]
    failed = sum(1 for p in points if p.status in BAD)
    took = (
        f"duration {fmt.duration(min(durations))} to {fmt.duration(max(durations))}"
        if durations
        else "no durations"
    )
    runs = "run" if len(points) == 1 else "runs"
    tail = f", {failed} failed" if failed else ""
    return f"last {len(points)} {runs}: {took}, row changes {min(changes)} to {max(changes)}{tail}"


def sparkline(points: Sequence[Point]) -> str:
    """An `<svg>` element for the points (oldest first); an empty frame when there are none."""
    label = escape(describe(points))
    parts = [
        f'<svg class="spark" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{label}</title>",
        f'<rect class="frame" x="0.5" y="0.5" width="{WIDTH - 1}" height="{HEIGHT - 1}"/>',
    ]
    if points:
        count = len(points)
        durations = [p.duration_seconds or 0.0 for p in points]
        changes = [float(p.changes) for p in points]
        duration_xy = _coords(durations, count)
        parts.append(_line(_coords(changes, count), "changes"))
        parts.append(_line(duration_xy, "duration"))
        for (x, y), point in zip(duration_xy, points, strict=True):
            if point.status in BAD:
                parts.append(f'<path class="fail" d="M{x - 2.5:.1f},{y - 2.5:.1f}l5,5m0,-5l-5,5"/>')
    parts.append("</svg>")
    return "".join(parts)
