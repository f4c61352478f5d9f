"""One batch of a list scan, from its pages to its rows in the store.

`prepare`: records whose stored hashes match are skipped, the rest normalised, and
the image requests of new/changed listings started. `write_batch`: the rows (after
their listings' images, which the caller stored first) and the rejects into the
store, their counts into the run.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from worker.api.client import Page
from worker.db.schema import IMAGES, Reject, Row, UpsertResult
from worker.sinks.encoding import encoded
from worker.sync.coerce import source_key
from worker.sync.drift import tally
from worker.sync.entities import Entity
from worker.sync.hashing import Fingerprint
from worker.sync.images import FetchedImages, ImageBatch, ImageFetcher, images_incomplete
from worker.sync.job import Job, split
from worker.sync.prehash import NOT_MADE, made_fingerprints


@dataclass
class PreparedBatch:
    """Pages normalised and waiting for their listings' images before being written."""

    pages: list[tuple[int, int]]
    """(records, checkpoint after it) of each page."""
    rows: list[Row]
    """Their raw documents encoded (`EncodedJson`): the form they wait in."""
    rejects: list[Reject]
    unchanged: int
    images: list[Future[FetchedImages]] = field(default_factory=list)
    held_bytes: int = 0
    """The encoded raw documents' size: what the scan's window is bounded by."""

    def ready(self) -> bool:
        return all(future.done() for future in self.images)


@dataclass(frozen=True)
class _Triage:
    """A batch's records: normalised (in page order), or unchanged (their ids)."""

    normalised: list[Row | Reject]
    unchanged: list[int]
    stored: dict[int, tuple[str, str | None]]
    """The stored hashes of every id the batch has (the one `stored_hashes` query)."""


def prepare(
    job: Job,
    entity: Entity,
    pages: Sequence[Page],
    seen: array[int],
    images: ImageFetcher | None,
    statuses: set[Any],
) -> PreparedBatch:
    """Skip records whose stored hashes match (one query), normalise the rest, start images.

    A record's fingerprint (id + public and private hash of its raw document) is what
    its normalised row would carry, so an unchanged record is neither validated nor
    sent to the database again. The rows wait for their images with their raw documents
    encoded, as they will be stored (`sinks.encoding.encoded`).
    """
    items = [item for page in pages for item in page.items]
    if entity.status_field:
        statuses.update(_statuses(items, entity.status_field))
    wants_hashes = images is not None and not job.options.full_images
    records = _triage(job, entity, items, wants_hashes, made_fingerprints(pages))
    rows, rejects = split(records.normalised)
    rows = [encoded(row) for row in rows]
    seen.extend(records.unchanged)
    seen.extend(row.source_id for row in rows)
    seen.extend(key for key in (source_key(r.source_id) for r in rejects) if key is not None)
    batch = PreparedBatch(
        [(len(page.items), page.skip + len(page.items)) for page in pages],
        rows,
        rejects,
        len(records.unchanged),
        held_bytes=sum(len(row.raw) + len(row.private_raw or b"") for row in rows),
    )
    if images is not None:
        targets = _image_targets(rows, records, job.options.full_images)
        batch.images = [images.submit(target) for target in targets]
    return batch


def _triage(
    job: Job,
    entity: Entity,
    items: list[Any],
    wants_hashes: bool,
    made: list[Fingerprint | None] | None = None,
) -> _Triage:
    """Normalise what changed, with one `stored_hashes` query for the whole batch.

    Only a record whose raw id is an integer can be fingerprinted: the others are
    normalised before the query, so that it asks for their rows' ids too (`wants_hashes`:
    the image targets need them). Only a record whose id is stored can be unchanged: the
    others (a cold sync) go straight to normalising, without the fingerprint's hashing.
    `made`: the fingerprints the page threads made (`sync/prehash.py`), item by item.
    """
    fingerprint = entity.fingerprint
    raw_ids = [_raw_id(item, entity.id_field) for item in items]
    plain = [fingerprint is not None and type(i) is int for i in raw_ids]
    early = {n: entity.normalise(item) for n, item in enumerate(items) if not plain[n]}
    ids = [i for i, is_plain in zip(raw_ids, plain, strict=True) if is_plain]
    ids += [row.source_id for row in early.values() if isinstance(row, Row)]
    stored: dict[int, tuple[str, str | None]] = {}
    if fingerprint is not None or (wants_hashes and ids):
        stored = job.store.stored_hashes(entity.table, job.brand, ids)
    if fingerprint is None:
        return _Triage(list(early.values()), [], stored)
    normalised: list[Row | Reject] = []
    unchanged: list[int] = []
    for n, item in enumerate(items):
        if not plain[n]:
            normalised.append(early[n])
            continue
        known = stored.get(raw_ids[n]) if stored else None
        found = None
        if known is not None:
            found = made[n] if made is not None and made[n] is not NOT_MADE else fingerprint(item)
        if found is not None and known == found[1:]:
            unchanged.append(found[0])
        else:
            normalised.append(entity.normalise(item))
    return _Triage(normalised, unchanged, stored)


def _image_targets(rows: list[Row], records: _Triage, full_images: bool) -> list[int]:
    """The listings whose images to fetch: every one seen (`full_images`), or the new and
    changed ones (their row's hash is not the stored one)."""
    if full_images:
        return [row.source_id for row in rows] + records.unchanged
    stored = records.stored
    return sorted(
        {
            row.source_id
            for row in rows
            if stored.get(row.source_id, (None, None))[0] != row.content_hash
        }
    )


def _raw_id(item: Any, field: str) -> Any:
    return item.get(field) if isinstance(item, dict) else None


def _statuses(items: Sequence[Any], field: str) -> set[int | str]:
    found = (_raw_id(item, field) for item in items)
    return {s for s in found if isinstance(s, (int, str)) and not isinstance(s, bool)}


def write_batch(
    job: Job,
    entity: Entity,
    rows: list[Row],
    rejects: list[Reject],
    *,
    images: ImageBatch | None = None,
    unchanged: int = 0,
) -> None:
    """The rows, then the rejects, of `entity` into the store; their counts into the run.

    `images`: the images of the rows' listings, already stored (images go first, so a
    run killed in between refetches them). A row whose listing's images came back with
    rejects is written marked (`images_incomplete`), so that the next scan does not take
    it for up to date. `unchanged`: records of the batch skipped as unchanged.
    """
    run = job.run
    written_rows = rows
    if images is not None:
        record_images(job, images)
        written_rows = _mark_incomplete(rows, images.incomplete)
    written = job.store.upsert(entity.table, run.brand, written_rows) if rows else UpsertResult()
    job.record_rejects(entity.name, rejects)
    run.add(written + UpsertResult(unchanged=unchanged), rejected=len(rejects))
    tally(run.details, run.brand, entity.name, rows)
    invalid = sum(row.invalid_coordinates for row in rows)
    if invalid:
        run.add_detail("normalise", invalid_coordinates=invalid)


def _mark_incomplete(rows: list[Row], incomplete: frozenset[int]) -> list[Row]:
    if not incomplete:
        return rows
    return [images_incomplete(row) if row.source_id in incomplete else row for row in rows]


def record_images(job: Job, batch: ImageBatch) -> None:
    """The image rejects of a batch of listings, and its counts in `details.images`."""
    job.record_rejects(IMAGES, batch.rejects)
    job.run.add_detail(
        "images",
        listings=batch.listings,
        inserted=batch.written.inserted,
        updated=batch.written.updated,
        unchanged=batch.written.unchanged,
        deleted=batch.written.deleted,
        rejected=len(batch.rejects),
        incomplete=len(batch.incomplete),
        failed=len(batch.failed),
    )
    job.run.counts = replace(job.run.counts, rejected=job.run.counts.rejected + len(batch.rejects))
