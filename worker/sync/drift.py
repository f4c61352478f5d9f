"""Counting, per run, the record fields the normaliser does not expect.

Each normalised row carries its `Drift` (field names only, never values): fields
nobody has classified (`unknown`, kept on the private side), known fields absent
(`missing`) and known fields of another JSON type (`retyped`). A run adds them up in
`sync_runs.details["fields"]` (name → records, at most `MAX_NAMES` names per kind) and
in the `rei_sync_record_fields` counter, so an operator sees the day the vendor changes
a record — and an unknown field is private until someone classifies it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter

from worker.db.schema import Row
from worker.safe_text import visible

KINDS = ("unknown", "missing", "retyped")
MAX_NAMES = 50
"""Distinct names kept per kind and run (a hostile record could carry thousands)."""
MAX_NAME_CHARS = 64

FIELDS = Counter(
    "rei_sync_record_fields",
    "Record fields the normaliser did not expect, by kind: unknown (kept private), "
    "missing, retyped (another JSON type). One count per record and field.",
    ["brand", "entity", "kind"],
)


def tally(details: dict[str, Any], brand: str, entity: str, rows: Iterable[Row]) -> None:
    """Add the rows' drift to a run's `details["fields"]` and to the counter."""
    totals = dict.fromkeys(KINDS, 0)
    for row in rows:
        found = row.drift
        if not found:
            continue
        bucket: dict[str, dict[str, int]] = details.setdefault(
            "fields", {kind: {} for kind in KINDS}
        )
        for kind in KINDS:
            names = getattr(found, kind)
            totals[kind] += len(names)
            counts = bucket[kind]
            for name in names:
                shown = visible(name)[:MAX_NAME_CHARS]
                if shown in counts or len(counts) < MAX_NAMES:
                    counts[shown] = counts.get(shown, 0) + 1
    for kind, total in totals.items():
        if total:
            FIELDS.labels(brand, entity, kind).inc(total)


def summary(details: dict[str, Any] | None) -> str | None:
    """One line for the status page and the run detail: `unknown 2 (ownerCellPhone, …)`."""
    fields = (details or {}).get("fields")
    if not isinstance(fields, dict):
        return None
    parts = []
    for kind in KINDS:
        counts = fields.get(kind)
        if isinstance(counts, dict) and counts:
            names = ", ".join(sorted(counts)[:5]) + (", …" if len(counts) > 5 else "")
            parts.append(f"{kind} {len(counts)} ({names})")
    return "; ".join(parts) or None
