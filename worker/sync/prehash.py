"""Fingerprints worked out in the thread that fetched a page, right after decoding it.

On the loader thread, a no-change scan's fingerprints compete for the GIL with the page
threads decoding the next pages, and the loader's database round trips wait behind
both. Done by the page thread itself (decode, then fingerprint, one after the other),
the loader is left with the hash query and the comparison: a no-change run at 20,000
listings took ~0.74 x the time in an interleaved A/B (docs/BENCHMARKS.md).

Only while the scan finds stored rows (`expect_stored`, set from each batch by the
loader): a cold sync would fingerprint records that cannot be unchanged. A page without
them (fetched while off, or recovered record by record) is fingerprinted by the loader
as before, so where a fingerprint was made never changes what it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from worker.api.client import Page
from worker.sync.hashing import Fingerprint

NOT_MADE: Any = object()
"""Stands for a fingerprint the page thread did not make (the loader makes it)."""


@dataclass(frozen=True)
class HashedPage(Page):
    fingerprints: tuple[Fingerprint | None, ...] = ()
    """One per item, in item order."""


class PageHasher:
    """`on_page` for `fetch_page_batches`: a page's items fingerprinted in its thread."""

    def __init__(self, fingerprint: Callable[[Any], Fingerprint | None]) -> None:
        self._fingerprint = fingerprint
        self.expect_stored = True
        """Whether the last batch had stored rows; read by page threads (a plain bool)."""

    def __call__(self, page: Page) -> Page:
        if not self.expect_stored or not page.items:
            return page
        made = tuple(map(self._fingerprint, page.items))
        return HashedPage(page.skip, page.take, page.items, made)


def made_fingerprints(pages: Sequence[Page]) -> list[Fingerprint | None] | None:
    """The fingerprints the page threads made for `pages`' items (`NOT_MADE` where they
    did not), or None when they made none."""
    if not any(isinstance(page, HashedPage) for page in pages):
        return None
    made: list[Fingerprint | None] = []
    for page in pages:
        if isinstance(page, HashedPage):
            made.extend(page.fingerprints)
        else:
            made.extend([NOT_MADE] * len(page.items))
    return made
