"""How fast the sandbox serves GetProperties pages: prints listings per second.

The sandbox runs in a child process (as `rei-sync sandbox` would), the client
here: a few threads, each with its own keep-alive session, fetching pages of
`--take` and decoding them with orjson. The first scan is cold (records are
generated), the later ones warm (serialised records come from the cache).
Besides wall-clock rate (which also pays for the client's decoding and for
whatever else the machine runs) it prints the sandbox process's own CPU time,
i.e. how many listings the sandbox can serve per core-second.

    .venv/bin/python bench/sandbox_throughput.py --listings 50000 --take 100
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import orjson
import requests

TARGET_LISTINGS_PER_SECOND = 20_000


def _serve(listings: int, ready: mp.Queue[dict[str, str]], stop: EventType) -> None:
    from worker.sandbox import SandboxConfig, SandboxServer

    with SandboxServer(SandboxConfig(listings=listings, brands=("BENCH",))).start() as server:
        ready.put(server.env_for("BENCH"))
        stop.wait()


def _token(env: dict[str, str]) -> tuple[str, str]:
    base = env["REMAX_BENCH_API_URL"]
    response = requests.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "password",
            "apikey": env["REMAX_BENCH_API_KEY"],
            "secretkey": env["REMAX_BENCH_SECRET_KEY"],
            "integratorID": env["REMAX_BENCH_INTEGRATOR_ID"],
        },
        timeout=10,
    )
    response.raise_for_status()
    return base, response.json()["access_token"]


def scan(base: str, token: str, listings: int, take: int, workers: int) -> tuple[int, float]:
    """Fetch every page once with `workers` threads; returns (listings seen, seconds)."""
    local = threading.local()
    headers = {"Authorization": f"bearer {token}", "Accept": "application/json"}

    def fetch(skip: int) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.get(f"{base}/GetProperties/take/{take}/skip/{skip}", headers=headers)
        response.raise_for_status()
        return len(orjson.loads(response.content)["result"])

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        seen = sum(pool.map(fetch, range(0, listings, take)))
    return seen, time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), or NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=50_000)
    parser.add_argument("--take", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="scans: 1 cold, then warm")
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    ready: mp.Queue[dict[str, str]] = ctx.Queue()
    stop = ctx.Event()
    child = ctx.Process(target=_serve, args=(args.listings, ready, stop), daemon=True)
    child.start()
    try:
        env = ready.get(timeout=60)
    except queue.Empty:
        raise SystemExit("sandbox did not start") from None
    try:
        base, token = _token(env)
        rates = []
        assert child.pid is not None
        for n in range(args.rounds):
            cpu_before = cpu_seconds(child.pid)
            seen, seconds = scan(base, token, args.listings, args.take, args.workers)
            server_cpu = cpu_seconds(child.pid) - cpu_before
            rate = seen / seconds
            rates.append(rate)
            label = "cold" if n == 0 else "warm"
            print(
                f"scan {n + 1} ({label}): {seen} listings in {seconds:.2f} s = {rate:,.0f}/s; "
                f"sandbox CPU {server_cpu:.2f} s = {seen / max(server_cpu, 1e-9):,.0f} "
                "listings per CPU-second"
            )
        best_warm = max(rates[1:], default=rates[0])

        def verdict(rate: float) -> str:
            return "OK" if rate >= TARGET_LISTINGS_PER_SECOND else "BELOW"

        print(
            f"sandbox throughput (pages of {args.take}, target "
            f"{TARGET_LISTINGS_PER_SECOND:,}/s): warm {best_warm:,.0f} listings/s "
            f"{verdict(best_warm)}; cold {rates[0]:,.0f} listings/s {verdict(rates[0])}"
        )
    finally:
        stop.set()
        child.join(timeout=10)


if __name__ == "__main__":
    main()
