"""Which records of one entity exist, and at which content version — without the records.

A record is identified by its slot (0, 1, 2, … in creation order). Its content
is derived from (seed, brand, slot, version), so the population only stores a
version counter and a live flag per slot: a few bytes per listing, which is
what lets one brand hold 1,000,000 listings.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterable


class Population:
    """Live slots in creation order, with a content version per slot. Not thread-safe."""

    def __init__(self, size: int) -> None:
        self.versions = array("I", bytes(4 * size))
        self.live = bytearray(b"\x01" * size)
        self.order = array("q", range(size))
        """Live slots, ascending (= creation order)."""

    @property
    def total(self) -> int:
        return len(self.versions)

    def __len__(self) -> int:
        return len(self.order)

    def is_live(self, slot: int) -> bool:
        return 0 <= slot < len(self.live) and self.live[slot] == 1

    def add(self, count: int) -> list[int]:
        start = len(self.versions)
        new = list(range(start, start + count))
        self.versions.extend([0] * count)
        self.live.extend(b"\x01" * count)
        self.order.extend(new)
        return new

    def bump(self, slots: Iterable[int]) -> None:
        for slot in slots:
            self.versions[slot] += 1

    def remove(self, slots: Iterable[int]) -> None:
        gone = False
        for slot in slots:
            self.live[slot] = 0
            gone = True
        if gone:
            live = self.live
            self.order = array("q", (s for s in self.order if live[s]))

    def pick(self, rng: random.Random, count: int) -> list[int]:
        """`count` distinct live slots, uniformly (all of them if there are fewer)."""
        count = max(0, min(count, len(self.order)))
        return [self.order[pos] for pos in rng.sample(range(len(self.order)), count)]


def churn_count(rate: float, base: int) -> int:
    """How many records a fraction means: round half up, so 0.5 % of 200 is 1."""
    return int(rate * base + 0.5)
