"""glibc's malloc arenas, two for the process unless `MALLOC_ARENA_MAX` says otherwise.

glibc gives each new thread an arena of its own, up to eight per core, and memory freed
in one arena is not reused by another; a sync has ~40 threads (pages, images, the pool),
so its RSS crept up with the records it had seen: a cold CLI sync of 200,000 listings went
from 115 to 124 MB over its seven minutes with the default arenas, and from 109 to 118 MB
with two (docs/BENCHMARKS.md, "9 memory"). The container image and the Kubernetes manifest
set `MALLOC_ARENA_MAX=2`; `limit_arenas` gives a process started any other way (a backfill
by hand, a unit file) the same. It must run before the process starts a thread.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

M_ARENA_MAX = -8
"""`mallopt`'s parameter for the most arenas (glibc's malloc.h)."""
ARENAS = 2


def limit_arenas(environ: Mapping[str, str] = os.environ) -> bool:
    """At most `ARENAS` malloc arenas from now on; False where it does not apply (not
    glibc, or `MALLOC_ARENA_MAX` set: glibc has read it, and it wins)."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in environ:
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no arenas to limit)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, ARENAS))
