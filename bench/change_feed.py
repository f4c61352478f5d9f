"""The change feed's extra cost on the one-percent case (issue 18; target <= 10 %).

    python -m bench.change_feed [--n 20000] [--rounds 3]

A cold sync and a no-change sync, then `rounds` pairs of one-percent runs (an epoch
changing 1 % of the listings before each run), alternating with and without the
change feed (`bench.sync_child --no-events`), so that drift of a shared machine falls
on both sides alike. Each run is timed by the engine (`sync_runs.duration_seconds`:
no process start) and by the wall clock of its process. Same sandbox, database and
harness helpers as `python -m bench` (bench/harness.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import psycopg

from bench.harness import Config, database, last_run_seconds, rei_sync, reset_schema, run_child
from bench.sandbox_proc import BRAND, Sandbox


def one_percent(
    env: dict[str, str], url: str, sandbox: Sandbox, *, events: bool
) -> dict[str, float]:
    changed = int(sandbox.epoch(changed=0.01)["brands"][BRAND]["changed"])
    with psycopg.connect(url) as c:
        before = c.execute("SELECT count(*) FROM sync_events").fetchone()
    child_env = {**os.environ, **env, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    argv = [sys.executable, "-m", "bench.sync_child", *(() if events else ("--no-events",))]
    run = run_child(argv, child_env)
    with psycopg.connect(url) as c:
        after = c.execute("SELECT count(*) FROM sync_events").fetchone()
    assert before is not None
    assert after is not None
    engine = last_run_seconds(url)
    assert engine is not None
    return {
        "engine_s": engine,
        "wall_s": run.seconds,
        "changed": changed,
        "events": int(after[0]) - int(before[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.change_feed")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database of an earlier run (BENCH_DATABASE_URL): no cold sync, one "
        "settling sync instead (the new sandbox starts again at epoch 0)",
    )
    args = parser.parse_args()
    config = Config(n=args.n, database_url=os.environ.get("BENCH_DATABASE_URL"))
    with database(config) as url, Sandbox(args.n) as sandbox:
        assert sandbox.env is not None
        env = sandbox.env
        if not args.reuse:
            reset_schema(url)
            rei_sync(env, url)  # cold, with images
        rei_sync(env, url)  # no-change (settling, with --reuse)
        runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        for round_ in range(args.rounds):
            for events in (True, False) if round_ % 2 == 0 else (False, True):
                result = one_percent(env, url, sandbox, events=events)
                runs[events].append(result)
                label = "with events   " if events else "without events"
                print(
                    f"  {label}: engine {result['engine_s']:.3f} s, wall {result['wall_s']:.3f} s,"
                    f" {result['changed']:.0f} changed, {result['events']:.0f} events",
                    flush=True,
                )
    for key in ("engine_s", "wall_s"):
        on = statistics.median(r[key] for r in runs[True])
        off = statistics.median(r[key] for r in runs[False])
        print(
            f"median {key}: with {on:.3f}, without {off:.3f}, extra {100 * (on / off - 1):+.1f} %"
        )


if __name__ == "__main__":
    main()
