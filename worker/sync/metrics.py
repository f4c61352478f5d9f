"""Prometheus metrics for sync runs, on the default registry. Labels: brand, entity, fixed words.

One family per fact: every run, manual or scheduled, is counted and timed here once
(`mode` tells them apart); the daemon adds only what the scheduler knows (skips, last
success, intervals).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter(
    "rei_sync_runs",
    "Finished sync runs by mode (scheduled, manual, backfill) and final status.",
    ["brand", "entity", "mode", "status"],
)
RUN_SECONDS = Histogram(
    "rei_sync_run_duration_seconds",
    "Duration of finished sync runs.",
    ["brand", "entity"],
    buckets=(0.5, 1, 5, 15, 60, 180, 600, 1800, 3600),
)
SEEN = Counter(
    "rei_sync_records_seen",
    "Records read from the API by sync runs.",
    ["brand", "entity"],
)
REJECTED = Counter(
    "rei_sync_records_rejected",
    "Records rejected by sync runs (see the sync_rejects table).",
    ["brand", "entity"],
)
ROWS_WRITTEN = Counter(
    "rei_sync_rows_written",
    "Entity rows inserted or updated (unchanged rows are not written).",
    ["brand", "entity", "action"],
)
DELISTED = Counter(
    "rei_sync_delisted",
    "Rows marked delisted after a complete scan and a per-row confirmation.",
    ["brand", "entity"],
)
DELIST_GUARD_TRIPPED = Counter(
    "rei_sync_delist_guard_tripped",
    "Runs that found more delisting candidates than the guard allows and delisted nothing.",
    ["brand", "entity"],
)
IMAGE_FETCHES = Counter(
    "rei_sync_image_fetches",
    "Image-list requests for one listing, by outcome: `ok`, `incomplete` (some image "
    "records rejected), `not_found` (the API no longer knows the listing), `error`.",
    ["brand", "outcome"],
)
IMAGE_CONCURRENCY = Gauge(
    "rei_sync_image_concurrency",
    "Image requests a run of the brand may have in flight now (the adaptive limit: grows "
    "while answers are fast and clean, halves on 429, 503 or a timeout).",
    ["brand"],
)
DELIST_UNCONFIRMED = Counter(
    "rei_sync_delist_unconfirmed",
    "Delisting candidates whose confirmation call failed (kept listed this run).",
    ["brand", "entity"],
)
ABSENT_LISTED = Gauge(
    "rei_sync_absent_listed",
    "Listings absent from the last complete scan whose details still say online.",
    ["brand", "entity"],
)
