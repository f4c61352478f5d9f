"""Where the client's CPU goes in the runs whose targets are not met: py-spy, summarised.

    PYTHONPATH=. python -m bench.profile [--n 20000] [--rate 200]

On a sandbox of N listings (its own process) and a scratch database (`BENCH_DATABASE_URL`,
else embedded), three runs of the `properties` entity are each sampled by `py-spy record`
(only the sync's process: not the sandbox, not Postgres), then summarised:

- `cold-props`: `bench.sync_child --no-images` into an empty schema (case 4a);
- `no-change`: the same again (case 5's work; no images are fetched on a no-change run);
- `cold-images`: `rei-sync sync` into an empty schema (case 4, the image requests).

Samples whose leaf frame is a wait (a lock, a queue, a socket read, the server: `WAITING`)
are counted apart, since py-spy takes a thread queueing for the GIL for a running one;
the shares are of the other samples, the client's work. Each summary gives those under
named parts of the code (inclusive: a stack counts once for each part it passes through)
and the hottest leaf functions. `--keep DIR` keeps py-spy's raw output. Needs `py-spy`
(`pip install -e '.[bench]'`) and ptrace rights.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import (
    CLI_SYNC,
    PROPERTIES_ONLY_SYNC,
    ROOT,
    Config,
    database,
    reset_schema,
    sync_env,
)
from bench.sandbox_proc import Sandbox

PARTS: dict[str, str] = {
    "page fetch + decode (api/client.py)": r"^worker/api/client\.py",
    "requests / urllib3 / http.client": r"^(requests|urllib3|http)/",
    "fingerprints (sync/hashing.py)": r"^worker/sync/hashing\.py",
    "normalise (sync/normalise, strict, models)": r"^worker/sync/(normalise|strict|models)\.py",
    "pydantic": r"^pydantic",
    "images (sync/images.py)": r"^worker/sync/images\.py",
    "sink (sinks/)": r"^worker/sinks/",
    "psycopg": r"^psycopg/",
    "sqlalchemy": r"^sqlalchemy/",
    "imports at start": r":_find_and_load$",
    "metrics / logging": r"^(prometheus_client|structlog|logging)/",
}
"""Named parts of the code, by a pattern on `file:function` of a frame."""

WAITING = re.compile(
    r"^(Condition\.wait|Condition\.__enter__|Event\.wait|Queue\.get|_worker|Thread\.join"
    r"|SocketIO\.readinto|poll_wait_for_socket.*do_poll|Connection\.wait) "
)
"""Leaf frames where a thread waits (a lock, a queue, a socket, the server): py-spy counts
some of these as running (a thread queueing for the GIL looks busy), so they are counted
apart and the shares are of the other samples."""

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _short(path: str) -> str:
    """A frame's file as a package path: `worker/api/client.py`, `requests/sessions.py`."""
    if "site-packages/" in path:
        return path.rsplit("site-packages/", 1)[1]
    own = re.search(r"(?:^|/)((?:worker|bench)/.*)$", path)
    if own:
        return own[1]
    return re.split(r"lib/python3\.\d+/", path)[-1]


def summarise(raw: Path, top: int = 12) -> str:
    """`py-spy --format raw` (collapsed stacks with counts) as parts and leaf functions."""
    total = 0
    parts: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    patterns = {name: re.compile(p) for name, p in PARTS.items()}
    waiting = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = []
        for frame in stack.split(";"):
            found = FRAME.match(frame)
            frames.append((_short(found["file"]), found["func"]) if found else ("", frame))
        file, func = frames[-1]
        leaf = f"{func} ({file})"
        if WAITING.match(leaf):
            waiting += count
            continue
        total += count
        for name, pattern in patterns.items():
            if any(pattern.search(f"{file}:{func}") for file, func in frames):
                parts[name] += count
        leaves[leaf] += count
    if not total:
        return "no samples"
    lines = [
        f"{total} samples working, {waiting} more waiting (a lock, a queue, a socket)",
        "  part of the code (inclusive, share of the working samples):",
    ]
    lines += [f"    {n / total:6.1%}  {name}" for name, n in parts.most_common()]
    lines.append("  hottest leaf functions (self):")
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in leaves.most_common(top)]
    return "\n".join(lines)


def record(argv: list[str], env: dict[str, str], out: Path, rate: int) -> None:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    command = [spy, "record", "--format", "raw", "-r", str(rate), "-o", str(out), "--", *argv]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} under py-spy exited {done.returncode}:\n"
                           f"{done.stderr[-2000:]}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=200, help="samples a second")
    parser.add_argument("--keep", type=Path, help="folder to keep py-spy's raw output in")
    args = parser.parse_args(argv)
    runs = (
        ("cold-props", PROPERTIES_ONLY_SYNC, True),
        ("no-change", PROPERTIES_ONLY_SYNC, False),
        ("cold-images", CLI_SYNC, True),
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        database(Config.from_env()) as url,
        Sandbox(args.n) as sandbox,
    ):
        assert sandbox.env is not None
        env = sync_env(sandbox.env, url)
        for name, command, fresh in runs:
            if fresh:
                reset_schema(url)
            out = (args.keep or Path(folder)) / f"{name}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            record(command, env, out, args.rate)
            print(f"== {name} (N = {args.n:,})\n{summarise(out)}\n", flush=True)


if __name__ == "__main__":
    main()
