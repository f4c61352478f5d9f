"""What a server has shown about its page sizes, remembered for the process.

The spec documents no page-size limit, so a server may answer at most N items
whatever `take` asked (a silent cap) or refuse a `take` it finds too large with
its invalid-request answer. Both are learnt once per server, brand and endpoint
(`PageSizes`) and the scan after uses the size that worked from its first page.
`REI_PAGE_SIZE` stays the upper bound: a remembered size only ever lowers it.
"""

from __future__ import annotations

import threading

from worker.errors import ApiError, ApiStatusError
from worker.log import get_logger

log = get_logger(__name__)

PageKey = tuple[str, str, str]
"""(API base URL, brand key, endpoint name)."""


REFUSAL_STATUSES = frozenset({400, 404, 413, 422})
"""How a server may refuse a `take`: the vendor's 404 "The request is invalid." with
`ModelState`; an ASP.NET route constraint's 404 "No HTTP resource was found"; other
stacks' 400, 413 or 422. The spec names none, so any of them is worth a smaller size."""


def refuses_page_size(error: ApiError) -> bool:
    """Whether `error`, answered to a list page before any page of its size was, may
    be a refused page size (trying smaller costs a few quick non-retried requests)."""
    return isinstance(error, ApiStatusError) and error.status in REFUSAL_STATUSES


def smaller_take(take: int) -> int:
    """The next page size to try after `take` was refused: half, never below 1."""
    return max(1, take // 2)


class PageSizes:
    """The largest page size each (server, brand, endpoint) is known to serve in full."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sizes: dict[PageKey, int] = {}

    def take_for(self, key: PageKey, wanted: int) -> int:
        """`wanted` (the configured size), lowered to what this server has shown it serves."""
        with self._lock:
            known = self._sizes.get(key)
        return wanted if known is None else min(wanted, known)

    def capped(self, key: PageKey, asked: int, cap: int) -> None:
        """The server answered `cap` items to a `take` of `asked` while more existed."""
        if self._lower(key, cap):
            log.warning("api.page_cap_learned", brand=key[1], endpoint=key[2], asked=asked, cap=cap)

    def stepped_down(self, key: PageKey, refused: list[int], take: int) -> None:
        """The server refused the sizes in `refused` and answered a page of `take`."""
        if self._lower(key, take):
            log.warning(
                "api.page_size_stepped_down",
                brand=key[1],
                endpoint=key[2],
                refused=refused,
                take=take,
            )

    def _lower(self, key: PageKey, take: int) -> bool:
        with self._lock:
            known = self._sizes.get(key)
            if known is not None and known <= take:
                return False
            self._sizes[key] = take
            return True


PAGE_SIZES = PageSizes()
"""The process's memory (a server keyed by its URL, so two sandboxes never share one)."""
