"""`limit_arenas`: a process that calls it before its threads gets two malloc arenas, not one
per thread; `MALLOC_ARENA_MAX` set by the operator wins. Counted from glibc's own
`malloc_stats` in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from worker.malloc import limit_arenas

PROGRAM = """
import ctypes, sys, threading
from worker.malloc import limit_arenas
print(limit_arenas(), flush=True)
barrier = threading.Barrier(8)
def allocate():
    barrier.wait()
    held = [bytearray(100_000) for _ in range(4)]
    barrier.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()
"""

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc only",
)


def arenas(environ: dict[str, str]) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=environ, capture_output=True, text=True, check=True
    )
    return done.stdout.strip(), sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@glibc
def test_threads_share_two_arenas_once_limited() -> None:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert arenas(environ) == ("True", 2)


@glibc
def test_the_operators_malloc_arena_max_wins() -> None:
    environ = {**os.environ, "MALLOC_ARENA_MAX": "4"}
    assert arenas(environ) == ("False", 4)


def test_it_does_nothing_where_the_variable_is_set() -> None:
    assert limit_arenas({"MALLOC_ARENA_MAX": "8"}) is False
