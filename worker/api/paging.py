"""What a server has shown about its page sizes, remembered for the process.

The spec documents no page-size limit, so a server may answer at most N items
whatever `take` asked (a silent cap) or refuse a `take` it finds too large with
its invalid-request answer. Both are learnt once per server, brand and endpoint
(`PageSizes`) and the scan after uses the size that worked from its first page.
`REI_PAGE_SIZE` stays the upper bound: a remembered size only ever lowers it.
"""

from __future__ import annotations

import threading

from worker.api.errors import BAD_REQUEST
from worker.errors import ApiError, ApiStatusError
from worker.log import get_logger

log = get_logger(__name__)

PageKey = tuple[str, str, str]
"""(API base URL, brand key, endpoint name)."""


def refuses_page_size(error: ApiError) -> bool:
    """The answer a server gives to a parameter it will not take: 400, or the API's
    own 404 "The request is invalid." (a body with `ModelState`/`MessageDetail`)."""
    if not isinstance(error, ApiStatusError):
        return False
    return error.status == 400 or (error.status == 404 and error.body_kind == BAD_REQUEST)


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
