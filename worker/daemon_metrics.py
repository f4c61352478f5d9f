"""The daemon's own Prometheus metrics: what only the scheduler knows about its jobs
(last success, interval, failures in a row, skips) and about itself. Every run's
counts and timings are `worker.sync.metrics`'."""

from __future__ import annotations

import platform

from prometheus_client import Counter, Gauge, Info

from worker import __version__

JOB_LABELS = ["brand", "entity"]
"""A scheduled job's labels."""

LAST_SUCCESS = Gauge(
    "rei_sync_scheduled_last_success_timestamp_seconds",
    "Last successful run of the job seen by this process (epoch s; the start as a baseline).",
    JOB_LABELS,
)
INTERVAL = Gauge(
    "rei_sync_scheduled_interval_seconds",
    "The job's nominal interval (for the staleness alert: 3 intervals without success).",
    JOB_LABELS,
)
CONSECUTIVE_FAILURES = Gauge(
    "rei_sync_scheduled_consecutive_failures",
    "Failed runs of the job in a row (0 after a success).",
    JOB_LABELS,
)
SKIPPED = Counter(
    "rei_sync_scheduled_skipped_runs",
    "Scheduled runs skipped, by reason: `lease_busy` (another replica is running the job) or "
    "`done_elsewhere` (another replica finished it while this run waited for a slot).",
    [*JOB_LABELS, "reason"],
)
SCHEDULER_RUNNING = Gauge("rei_sync_scheduler_running", "1 while the daemon's scheduler runs.")
STARTED_AT = Gauge("rei_sync_daemon_start_timestamp_seconds", "When the daemon started.")
BUILD = Info("rei_sync_build", "The running rei-sync: its version and Python's.")
BUILD.info({"version": __version__, "python": platform.python_version()})
