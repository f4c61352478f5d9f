"""Property images: the stored set of a listing is made equal to the API's, atomically.

Images are fetched (bounded parallel) for a batch of listings, then the batch is
written in one transaction in which each listing's images are inserted, updated
and deleted together (so every listing's set changes atomically). A listing the
API no longer knows (404) is skipped: its delisting is the listing scan's job.

A listing whose answer had rejected image records (malformed: the sandbox spoils
answers at random) is *incomplete*: its valid images are stored, but nothing of its
stored set is deleted (a rejected record may be a stored image), and the listing row
written with it carries `images_incomplete(row)`, a content hash no record has, so
the next listing scan sees it as changed and fetches its images again. A permanently
malformed image thus costs one image request and one `sync_rejects` row per run, and
no rewrite: the marked row it writes again is the one stored (docs/RELIABILITY.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from worker.api.client import ReiClient
from worker.api.endpoints import as_list, property_images_path
from worker.errors import ReiSyncError
from worker.sinks.base import Sink, UpsertResult
from worker.sync import metrics
from worker.sync.entities import IMAGES_TABLE
from worker.sync.normalise import Reject, Row
from worker.sync.pipeline import map_bounded
from worker.sync.records import normalise_image


@dataclass(frozen=True)
class ImageBatch:
    listings: int
    written: UpsertResult
    rejects: tuple[Reject, ...]
    incomplete: frozenset[int] = field(default=frozenset())
    """Listings with rejected image records: their stored set may lack images."""


INCOMPLETE_MARK = "images-incomplete:"
"""Prefix of the content hash of a listing row stored while its image set is incomplete."""


def images_incomplete(row: Row) -> Row:
    """`row` with a content hash that matches no record's (a hash is hex): stored so, the
    listing is seen as changed by the next scan, which fetches its images again.

    Deterministic, so writing it again (the image is still malformed) changes nothing.
    """
    return replace(row, content_hash=INCOMPLETE_MARK + row.content_hash)


FetchedImages = tuple[int, list[Row | Reject] | None]
"""A listing id and its normalised image records, or None when the API no longer knows it."""


def fetch_images(client: ReiClient, listing_id: int) -> FetchedImages:
    """One listing's images from the API, normalised (nothing stored)."""
    brand = client.brand.key
    try:
        body = client.get_json_or_none(property_images_path(listing_id))
        if body is None:
            metrics.IMAGE_FETCHES.labels(brand, "not_found").inc()
            return listing_id, None
        items = [normalise_image(item) for item in as_list(body, "propertyimages")]
    except ReiSyncError:
        metrics.IMAGE_FETCHES.labels(brand, "error").inc()
        raise
    outcome = "incomplete" if any(isinstance(i, Reject) for i in items) else "ok"
    metrics.IMAGE_FETCHES.labels(brand, outcome).inc()
    return listing_id, items


def store_images(client: ReiClient, sink: Sink, fetched: Sequence[FetchedImages]) -> ImageBatch:
    """Make the stored image sets of the fetched listings equal to what was fetched.

    Listings with rejected records only gain or update images (`ImageBatch.incomplete`).
    """
    found = [(listing_id, items) for listing_id, items in fetched if items is not None]
    incomplete = frozenset(
        listing_id for listing_id, items in found if any(isinstance(i, Reject) for i in items)
    )
    rows = [
        item if item.scope_id == listing_id else replace(item, scope_id=listing_id)
        for listing_id, items in found
        for item in items
        if isinstance(item, Row)
    ]
    rejects = tuple(item for _, items in found for item in items if isinstance(item, Reject))
    complete = [listing_id for listing_id, _ in found if listing_id not in incomplete]
    brand = client.brand.key
    written = (
        sink.replace_children(IMAGES_TABLE, brand, complete, rows)
        if complete
        else sink.upsert(IMAGES_TABLE, brand, rows)
    )
    return ImageBatch(len(found), written, rejects, incomplete)


def load_images(
    client: ReiClient, sink: Sink, listing_ids: Sequence[int], *, parallelism: int
) -> ImageBatch:
    """Fetch and store the images of `listing_ids`; returns what was written and rejected."""
    if not listing_ids:
        return ImageBatch(0, UpsertResult(), ())
    fetched = map_bounded(
        lambda listing_id: fetch_images(client, listing_id), listing_ids, parallelism=parallelism
    )
    return store_images(client, sink, fetched)
