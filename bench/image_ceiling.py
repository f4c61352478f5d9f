"""The image phase judged against the machine: the sandbox's own request ceiling, rei-sync's
adaptive image fetches on the same sample, and how both scale against a distant API.

`python -m bench` runs them after case 4b (rows 4c-4e of its table, keys in
`latest-extra.json`); `python -m bench.image_ceiling [N]` runs them alone on a sandbox
of N listings (default 10,000) and prints the keys.

- **ceiling**: a bare client, `http.client` with one keep-alive connection per thread,
  `BENCH_CEILING_THREADS` (48) threads, `GET propertyimages/{id}` with the token, the body
  read and dropped (no JSON, no normalising): what the sandbox can answer on this machine.
- **adaptive**: rei-sync's image fetch (`ImageFetcher`, the limiter starting at 12 and
  capped at `REI_IMAGE_CONCURRENCY_MAX`'s default, 32), decoded and normalised, nothing
  stored: the code path of a cold sync's image phase (case 4b).

Both run on the same `BENCH_IMAGE_SAMPLE` listings, interleaved (ceiling, adaptive, ceiling, …,
`BENCH_CEILING_REPEATS` rounds); the medians and their ratio are reported.

- **+50 ms**: the same fetch through `bench/latency_proxy.py` (25 ms each way) at fixed
  concurrency 12, 32 and 64 and adaptive, `BENCH_IMAGE_RTT_SAMPLE` listings each.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.latency_proxy import LatencyProxy
from bench.sandbox_proc import BRAND, Sandbox
from worker.api.client import ReiClient
from worker.api.endpoints import PROPERTIES
from worker.auth import TokenManager
from worker.config import load_settings
from worker.sync.concurrency import DEFAULT_IMAGE_CONCURRENCY_MAX, AimdLimiter
from worker.sync.images import ImageFetcher
from worker.sync.pipeline import DEFAULT_IMAGE_PARALLELISM

RTT_ONE_WAY_SECONDS = 0.025
RTT_LEVELS = (12, 32, 64)
"""Fixed concurrency levels of the +50 ms case (and the adaptive one after them)."""


@dataclass(frozen=True)
class Rate:
    per_s: float
    """Requests per second (wall clock)."""
    cpu_us: float
    """CPU of this (the client's) process per request, all threads, in microseconds."""
    levels: tuple[int, ...] = ()
    """The limits the adaptive limiter moved through (rei-sync's fetch only)."""


class _Clock:
    """Wall and process CPU time of one measured span."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def rate(self, requests: int, levels: tuple[int, ...] = ()) -> Rate:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return Rate(requests / wall, cpu / requests * 1e6, levels)


def _knob(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def ceiling_threads() -> int:
    return _knob("BENCH_CEILING_THREADS", 48)


def build_client(env: dict[str, str], session: requests.Session) -> ReiClient:
    """rei-sync's client, its pool wide enough for the highest level measured."""
    settings = load_settings(environ=env, env_file=None)
    tokens = TokenManager(settings.brands, session=session)
    return ReiClient(settings.brand(BRAND), tokens, session=session, pool_connections=80)


def bare_token(env: dict[str, str]) -> str:
    settings = load_settings(environ=env, env_file=None)
    with requests.Session() as session:
        tokens = TokenManager(settings.brands, session=session)
        try:
            return tokens.get_valid_token(BRAND)
        finally:
            tokens.close()


def ceiling_rate(env: dict[str, str], ids: Sequence[int], threads: int) -> Rate:
    """Requests/s of a bare keep-alive client at `threads` (nothing decoded)."""
    token = bare_token(env)
    base = urlsplit(env[f"REMAX_{BRAND}_API_URL"])
    headers = {"Authorization": f"bearer {token}", "Accept": "application/json"}
    local = threading.local()

    def get(listing_id: int) -> None:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(
                base.hostname or "127.0.0.1", base.port, timeout=30
            )
        connection.request("GET", f"{base.path}/propertyimages/{listing_id}", headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"ceiling: HTTP {response.status} on listing {listing_id}")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(get, ids[: threads * 2]))  # every thread's connection open, untimed
        clock = _Clock()
        list(pool.map(get, ids))
        return clock.rate(len(ids))


def fetch_rate(
    env: dict[str, str], ids: Sequence[int], *, start: int, cap: int, floor: int = 1
) -> Rate:
    """Requests/s of rei-sync's image fetch (its limiter from `start` within `floor` and
    `cap`; all three equal: a fixed level), and the levels the limiter moved through."""
    levels: list[int] = []
    watched = AimdLimiter(start=start, cap=cap, floor=floor, on_change=levels.append)
    with requests.Session() as session:
        client = build_client(env, session)
        client.get_json_or_none(f"propertyimages/{ids[0]}")  # token and one connection, untimed
        with ImageFetcher(client, watched) as fetcher:
            clock = _Clock()
            fetched = fetcher.fetch_all(ids)
            rate = clock.rate(len(ids), tuple(levels))
    failed = [f.listing_id for f in fetched if f.failure is not None]
    if failed:
        raise RuntimeError(f"image fetch: {len(failed)} listings failed, e.g. {failed[0]}")
    return rate


def adaptive_rate(env: dict[str, str], ids: Sequence[int]) -> Rate:
    """`fetch_rate` with the limits a cold sync's image phase runs with (default options)."""
    return fetch_rate(env, ids, start=DEFAULT_IMAGE_PARALLELISM, cap=DEFAULT_IMAGE_CONCURRENCY_MAX)


def ceiling_vs_adaptive(env: dict[str, str], ids: Sequence[int]) -> dict[str, Any]:
    """The ceiling and the adaptive image phase on `ids`, interleaved, medians and ratio."""
    threads, repeats = ceiling_threads(), _knob("BENCH_CEILING_REPEATS", 3)
    ceilings: list[Rate] = []
    adaptive: list[Rate] = []
    for _ in range(repeats):
        ceilings.append(ceiling_rate(env, ids, threads))
        adaptive.append(adaptive_rate(env, ids))
    ceiling = statistics.median(r.per_s for r in ceilings)
    phase = statistics.median(r.per_s for r in adaptive)
    return {
        "image_sample": len(ids),
        "ceiling_threads": threads,
        "ceiling_requests_per_s": ceiling,
        "ceiling_requests_per_s_runs": [r.per_s for r in ceilings],
        "ceiling_client_cpu_us_per_request": statistics.median(r.cpu_us for r in ceilings),
        "image_adaptive_requests_per_s": phase,
        "image_adaptive_requests_per_s_runs": [r.per_s for r in adaptive],
        "image_adaptive_client_cpu_us_per_request": statistics.median(r.cpu_us for r in adaptive),
        "image_adaptive_top_limit_runs": [max(r.levels) for r in adaptive],
        "image_vs_ceiling": phase / ceiling,
        "image_vs_ceiling_runs": [
            a.per_s / c.per_s for a, c in zip(adaptive, ceilings, strict=True)
        ],
    }


def rtt_scaling(env: dict[str, str], ids: Sequence[int]) -> dict[str, Any]:
    """Image requests/s at +50 ms per round trip: fixed levels, then adaptive."""
    base = urlsplit(env[f"REMAX_{BRAND}_API_URL"])
    upstream = (base.hostname or "127.0.0.1", base.port or 80)
    rates: dict[str, float] = {}
    with LatencyProxy(upstream, RTT_ONE_WAY_SECONDS, max_connections=256) as proxy:
        slow = {
            **env,
            f"REMAX_{BRAND}_API_URL": f"{base.scheme}://127.0.0.1:{proxy.port}{base.path}",
        }
        for level in RTT_LEVELS:
            rates[str(level)] = fetch_rate(slow, ids, start=level, cap=level, floor=level).per_s
        adaptive = adaptive_rate(slow, ids)
    rates["adaptive"] = adaptive.per_s
    return {
        "image_rtt50ms_sample": len(ids),
        "image_rtt50ms_requests_per_s": rates,
        "image_rtt50ms_adaptive_top_limit": max(adaptive.levels),
    }


def image_cases(
    env: dict[str, str], ids: Sequence[int], sample: int, rtt_sample: int
) -> dict[str, Any]:
    """Both cases on the first `sample` (`rtt_sample` at +50 ms) of `ids`, as extras for
    `bench/results/latest-extra.json`."""
    extras = ceiling_vs_adaptive(env, list(ids[:sample]))
    print(
        f"  image phase vs ceiling: {extras['image_adaptive_requests_per_s']:.0f} / "
        f"{extras['ceiling_requests_per_s']:.0f} req/s = {extras['image_vs_ceiling']:.2f} "
        f"(client CPU per request {extras['image_adaptive_client_cpu_us_per_request']:.0f} / "
        f"{extras['ceiling_client_cpu_us_per_request']:.0f} us)",
        flush=True,
    )
    extras.update(rtt_scaling(env, list(ids[:rtt_sample])))
    shown = ", ".join(f"{k}: {v:.0f}" for k, v in extras["image_rtt50ms_requests_per_s"].items())
    print(f"  image requests/s at +50 ms RTT: {shown}", flush=True)
    return extras


def image_rows(x: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """Table rows (case, seconds, rows/s, x bound, vs rei-sync) of these cases."""
    if "ceiling_requests_per_s" not in x:
        return []
    ceiling, phase = x["ceiling_requests_per_s"], x["image_adaptive_requests_per_s"]
    rows = [
        (f"4c request ceiling (bare, {x['ceiling_threads']} thr)", "", f"{ceiling:,.0f}", "", ""),
        (
            "4d image phase vs ceiling (adaptive)",
            "",
            f"{phase:,.0f}",
            "",
            f"{x['image_vs_ceiling']:.2f}x ceiling",
        ),
    ]
    for name, rate in x.get("image_rtt50ms_requests_per_s", {}).items():
        label = f"conc {name}" if name != "adaptive" else "adaptive"
        rows.append((f"4e images +50 ms RTT, {label}", "", f"{rate:,.0f}", "", ""))
    return rows


def listing_ids(env: dict[str, str], limit: int) -> list[int]:
    """The first `limit` listing ids of the sandbox (untimed)."""
    ids: list[int] = []
    with requests.Session() as session:
        client = build_client(env, session)
        for page in client.pages(PROPERTIES, 100):
            ids.extend(int(item["listingId"]) for item in page.items)
            if len(ids) >= limit:
                break
    return ids[:limit]


def main() -> None:
    """`python -m bench.image_ceiling [N]`: these cases alone, on a sandbox of N listings."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with Sandbox(n) as sandbox:
        assert sandbox.env is not None
        ids = listing_ids(sandbox.env, n)
        extras = image_cases(
            sandbox.env,
            ids,
            _knob("BENCH_IMAGE_SAMPLE", 5_000),
            _knob("BENCH_IMAGE_RTT_SAMPLE", 1_500),
        )
    print(json.dumps(extras, indent=2))


if __name__ == "__main__":
    main()
