"""Seeding helpers shared by the generators: stable seeds, cheap choices, vendor dates."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

JsonDict = dict[str, Any]


def mix(*parts: int) -> int:
    """A 64-bit seed from small ints; stable across processes (no `hash()`)."""
    acc = 0x9E3779B97F4A7C15
    for part in parts:
        acc = ((acc ^ (part & 0xFFFFFFFFFFFFFFFF)) * 0x100000001B3 + 0x632BE59BD9B4E019) % (1 << 64)
        acc ^= acc >> 29
    return acc


def pick(roll: float, options: tuple[Any, ...]) -> Any:
    """`random.choice` without its overhead (this runs ~30 times per record)."""
    return options[int(roll * len(options))]


@functools.lru_cache(maxsize=8192)
def day(ordinal: int) -> str:
    """Zone-less midnight timestamp, as the vendor writes dates (cached: few distinct days)."""
    return date.fromordinal(ordinal).isoformat() + "T00:00:00"
