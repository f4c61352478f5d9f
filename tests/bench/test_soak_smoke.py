"""`python -m bench.soak` at smoke size (6 s, a sample every 0.5 s, 20 listings a brand).

The soak is a benchmark, not a test: no time or memory bound is asserted here, only the
shape and sanity of what it writes, so the harness cannot rot. It runs as a process of
its own, as documented (it installs signal handlers, starts tracemalloc and drops the
`public` schema of the database it is given: the per-test one).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MINUTES, WARMUP_MINUTES, EVERY = 0.1, 0.05, 0.5
SAMPLE_KEYS = {
    "t_s",
    "rss_mb",
    "threads",
    "open_files",
    "db_connections",
    "runs",
    "failed_runs",
    "traced_mb",
}
FIGURES = ("rss_mb", "threads", "open_files", "db_connections", "traced_mb")
GROWTH_LINE = re.compile(r"^[+-]\d+\.\d kB \([+-]\d+ blocks\) \S+:\d+( <- \S+:\d+)*$")


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `command`; past `timeout` ask it to stop (SIGTERM: the daemon shuts down cleanly)."""
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        pytest.fail(f"the soak did not end within {timeout:g} s:\n{stderr[-3000:]}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.mark.timeout(240)
def test_the_soak_samples_and_summarises_at_smoke_size(
    migrated_db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "soak.jsonl"
    command = [
        sys.executable,
        "-m",
        "bench.soak",
        *("--minutes", str(MINUTES), "--warmup-minutes", str(WARMUP_MINUTES)),
        *("--every", str(EVERY), "--listings", "20"),
        *("--database-url", migrated_db_url, "--out", str(out)),
    ]
    completed = _run(command, timeout=180)
    assert completed.returncode == 0, completed.stderr[-3000:]

    lines: list[dict[str, Any]] = [json.loads(line) for line in out.read_text().splitlines()]
    samples = [line for line in lines if "event" not in line]
    warmups = [line for line in lines if line.get("event") == "warmup_over"]
    summary = lines[-1]
    assert summary["event"] == "summary"
    assert len(lines) == len(samples) + len(warmups) + 1

    # Samples: every key, plausible figures, time moving on, no failed run.
    assert len(samples) >= 3
    for sample in samples:
        assert set(sample) == SAMPLE_KEYS
        assert sample["rss_mb"] > 0
        assert sample["threads"] > 0
        assert sample["open_files"] > 0
        assert sample["db_connections"] > 0
        assert sample["traced_mb"] > 0
        assert sample["failed_runs"] == 0
    times = [sample["t_s"] for sample in samples]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert times[-1] >= MINUTES * 60
    runs = [sample["runs"] for sample in samples]
    assert runs == sorted(runs)
    assert runs[-1] > 0

    # One end of the warm-up (the tracemalloc snapshot), on a sample taken past it. The
    # summary's "after warm-up" starts at the first sample whose rounded `t_s` is past
    # it: the same sample or, when `t_s` rounded up to the boundary, the one before.
    assert len(warmups) == 1
    snapshot_at = samples.index({k: v for k, v in warmups[0].items() if k != "event"})
    after = [sample for sample in samples if sample["t_s"] >= WARMUP_MINUTES * 60]
    warm_at = samples.index(after[0])
    assert snapshot_at - warm_at in (0, 1)

    # The summary: the same samples, min <= max after the warm-up, the growth sites.
    assert summary["minutes"] == MINUTES
    assert summary["warmup_minutes"] == WARMUP_MINUTES
    assert summary["brands"] == 2
    assert summary["first"] == samples[0]
    assert summary["last"] == samples[-1]
    assert summary["after_warmup"] == after[0]
    for key in FIGURES:
        assert summary[f"{key}_after_warmup_min"] == min(s[key] for s in after), key
        assert summary[f"{key}_after_warmup_max"] == max(s[key] for s in after), key
    assert summary["rss_growth_after_warmup_mb"] == pytest.approx(
        after[-1]["rss_mb"] - after[0]["rss_mb"], abs=0.011
    )
    top_growth = summary["top_growth"]
    assert 0 < len(top_growth) <= 15
    for line in top_growth:
        assert GROWTH_LINE.match(line), line
