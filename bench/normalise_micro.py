"""µs per listing of the normaliser: the checked path (pydantic models) against the strict
path (`worker/sync/strict.py`), over sandbox listings as the API sends them.

    PYTHONPATH=. python -m bench.normalise_micro [--listings 20000] [--repeat 7]

Both are timed interleaved, in chunks of `CHUNK` records, on the same records, in CPU time
of this process (`time.process_time`: on a shared machine the time spent waiting for a
core is not the normaliser's); read the medians and the ratios, not one number.
"split" is a record up to its public and private halves, typed columns and drift,
without the two content hashes; "row" is the whole `normalise_property`, hashes
included; "associate split" is `strict_associate` against `checked_associate`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from worker.db.schema import Reject, Row
from worker.sandbox.data import BrandData
from worker.sync.normalise import (
    checked_associate,
    checked_property,
    normalise_property,
    row_of,
    strict_associate,
    strict_property,
)


def records(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`count` sandbox listings and as many associates, decoded from the JSON served."""
    brand = BrandData(
        "BENCH", 0, 1, seed=7, listings=count, associates=count,
        images_per_listing=0, cache_records=0,
    )  # fmt: skip
    listings = [orjson.loads(brand.property_json(slot)) for slot in range(count)]
    associates = [orjson.loads(orjson.dumps(brand.associate_record(s))) for s in range(count)]
    return listings, associates


def checked_row(raw: Any) -> Row | Reject:
    """`normalise_property` as it was: the checked path for every record, then the hashes."""
    split = checked_property(raw)
    if isinstance(split, Reject):
        return split
    return row_of(split)


CHUNK = 500


def interleaved(
    before: Callable[[Any], Any], after: Callable[[Any], Any], records: list[dict[str, Any]]
) -> tuple[float, float]:
    """µs per record of `before` and of `after`, alternating every `CHUNK` records."""
    spent = [0.0, 0.0]
    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        for side, function in enumerate((before, after)):
            started = time.process_time()
            for raw in chunk:
                function(raw)
            spent[side] += time.process_time() - started
    return spent[0] / len(records) * 1e6, spent[1] / len(records) * 1e6


CASES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], bool]] = {
    "split": (checked_property, strict_property, False),
    "row": (checked_row, normalise_property, False),
    "associate split": (checked_associate, strict_associate, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    listings, associates = records(args.listings)
    taken = sum(strict_property(raw) is not None for raw in listings)
    print(f"{len(listings)} sandbox listings, {taken} take the strict path")
    taken = sum(strict_associate(raw) is not None for raw in associates)
    print(f"{len(associates)} sandbox associates, {taken} take the strict path")
    for name, (before, after, of_associates) in CASES.items():
        slow: list[float] = []
        fast: list[float] = []
        for _ in range(args.repeat):
            checked, strict = interleaved(before, after, associates if of_associates else listings)
            slow.append(checked)
            fast.append(strict)
        ratios = sorted(s / f for s, f in zip(slow, fast, strict=True))
        print(
            f"{name:>15}: checked {statistics.median(slow):6.2f} µs, "
            f"strict {statistics.median(fast):6.2f} µs (min {min(fast):.2f}), "
            f"ratio median {statistics.median(ratios):.2f}x "
            f"[{ratios[0]:.2f}-{ratios[-1]:.2f}]"
        )


if __name__ == "__main__":
    main()
