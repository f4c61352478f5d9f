"""Cost of `TokenManager.get_valid_token` on a FRESH token (the path every API call takes).

Prints the median (and p99) microseconds per call over repeated timed batches,
with the real system clock and the real manager; the token comes from an
in-process fake requester, so nothing here touches the network.

    .venv/bin/python bench/token_hot_path.py [--calls 200000] [--batches 50]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from worker.auth.endpoint import TokenResponse
from worker.auth.manager import TokenManager
from worker.config import Brand, load_settings


def fake_requester(brand: Brand) -> TokenResponse:
    return TokenResponse(f"{brand.key}-" + "x" * 300, 86399.0)


def brands() -> tuple[Brand, ...]:
    env = {}
    for key in ("AZURA", "BLUE_OCEAN"):
        env.update(
            {
                f"REMAX_{key}_API_URL": "http://127.0.0.1:9/api/v1",
                f"REMAX_{key}_API_KEY": f"bench-api-key-{key}",
                f"REMAX_{key}_INTEGRATOR_ID": f"bench-integrator-{key}",
                f"REMAX_{key}_SECRET_KEY": f"bench-secret-key-{key}",
            }
        )
    return load_settings(environ=env, env_file=None).brands


def per_call_microseconds(manager: TokenManager, calls: int) -> float:
    get = manager.get_valid_token
    started = time.perf_counter()
    for _ in range(calls):
        get("AZURA")
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000, help="calls per batch")
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--threads", type=int, default=4, help="for the contended run")
    args = parser.parse_args()

    manager = TokenManager(brands(), requester=fake_requester)
    manager.get_valid_token("AZURA")  # acquire once; every timed call is FRESH
    per_call_microseconds(manager, args.calls)  # warm-up

    samples = [per_call_microseconds(manager, args.calls) for _ in range(args.batches)]
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(
        f"get_valid_token FRESH, 1 thread: median {statistics.median(samples):.3f} us/call "
        f"(min {samples[0]:.3f}, p99 {p99:.3f}; {args.batches} x {args.calls} calls)"
    )

    contended: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        result = [per_call_microseconds(manager, args.calls // 4) for _ in range(5)]
        with lock:
            contended.extend(result)

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(
        f"get_valid_token FRESH, {args.threads} threads: median "
        f"{statistics.median(contended):.3f} us/call per thread (GIL-shared)"
    )
    manager.close()


if __name__ == "__main__":
    main()
