"""Property images: the stored set of a listing is made equal to the API's, atomically.

Images are fetched for a batch of listings (at an adaptive concurrency:
`sync/concurrency.py`), then the batch is written in one transaction in which each
listing's images are inserted, updated and deleted together (so every listing's set
changes atomically). A listing the API no longer knows (404) is skipped: its
delisting is the listing scan's job.

A listing whose answer had rejected image records (malformed: the sandbox spoils
answers at random) is *incomplete*: its valid images are stored, but nothing of its
stored set is deleted (a rejected record may be a stored image), and the listing row
written with it carries `images_incomplete(row)`, a content hash no record has, so
the next listing scan sees it as changed and fetches its images again. A permanently
malformed image thus costs one image request and one `sync_rejects` row per run, and
no rewrite: the marked row it writes again is the one stored (docs/RELIABILITY.md).

A listing whose image request fails after its retries (a 5xx, a 404 that is not the
API's "not found", a body that is not JSON, a token refused for that one request) is
*failed*: one `sync_rejects` row names it (entity `images`, its listing id, a reason
without the answer's content), its stored images are left as they are, and it counts as
incomplete, so its listing row is stored marked and the next run asks again. The run
goes on (`sync/failures.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from worker.api.client import ReiClient
from worker.api.endpoints import as_list, property_images_path
from worker.db.schema import IMAGES_TABLE, Reject, Row, UpsertResult
from worker.errors import ReiSyncError
from worker.log import get_logger
from worker.sinks.base import Sink
from worker.sync import metrics
from worker.sync.concurrency import AimdLimiter, LimitedPool
from worker.sync.failures import failure_reason, failure_status, is_per_listing
from worker.sync.records import normalise_image


@dataclass(frozen=True)
class ImageBatch:
    listings: int
    written: UpsertResult
    rejects: tuple[Reject, ...]
    incomplete: frozenset[int] = field(default=frozenset())
    """Listings with rejected image records or a failed fetch: their stored set may lack images."""
    failed: frozenset[int] = field(default=frozenset())
    """Listings whose image request failed after its retries (also in `incomplete`)."""


INCOMPLETE_MARK = "images-incomplete:"
"""Prefix of the content hash of a listing row stored while its image set is incomplete."""


def images_incomplete(row: Row) -> Row:
    """`row` with a content hash that matches no record's (a hash is hex): stored so, the
    listing is seen as changed by the next scan, which fetches its images again.

    Deterministic, so writing it again (the image is still malformed) changes nothing.
    """
    return replace(row, content_hash=INCOMPLETE_MARK + row.content_hash)


log = get_logger(__name__)


@dataclass(frozen=True)
class FetchedImages:
    """A listing's normalised image records; `items` None: the API no longer knows it;
    `failure`: the request failed, the reject that names the listing (`items` is empty)."""

    listing_id: int
    items: list[Row | Reject] | None
    failure: Reject | None = None


def fetch_images(client: ReiClient, listing_id: int) -> FetchedImages:
    """One listing's images from the API, normalised (nothing stored); a per-listing
    failure is returned (`FetchedImages.failure`), anything else raised."""
    path = property_images_path(listing_id)
    brand = client.brand.key
    try:
        body = client.get_json_or_none(path)
        if body is None:
            metrics.IMAGE_FETCHES.labels(brand, "not_found").inc()
            return FetchedImages(listing_id, None)
        records = as_list(body, "propertyimages")
    except ReiSyncError as exc:
        metrics.IMAGE_FETCHES.labels(brand, "error").inc()
        if not is_per_listing(exc):
            raise
        return FetchedImages(listing_id, [], image_failure(brand, listing_id, path, exc))
    items = [normalise_image(item) for item in records]
    outcome = "incomplete" if any(isinstance(i, Reject) for i in items) else "ok"
    metrics.IMAGE_FETCHES.labels(brand, outcome).inc()
    return FetchedImages(listing_id, items)


def image_failure(brand: str, listing_id: int, path: str, exc: ReiSyncError) -> Reject:
    """The reject naming a listing whose image request failed (no answer content in it)."""
    reason = (
        failure_reason(path, exc) + ": images not fetched, the listing is kept for the next run"
    )
    log.warning("sync.images_failed", brand=brand, listing_id=listing_id, reason=reason)
    payload: dict[str, int | str] = {"ListingId": listing_id, "endpoint": "propertyimages"}
    status = failure_status(exc)
    if status is not None:
        payload["status"] = status
    return Reject(str(listing_id), reason, payload)


def store_images(client: ReiClient, sink: Sink, fetched: Sequence[FetchedImages]) -> ImageBatch:
    """Make the stored image sets of the fetched listings equal to what was fetched.

    Listings with rejected records only gain or update images, a failed listing keeps its
    stored set as it is (`ImageBatch.incomplete`, `ImageBatch.failed`).
    """
    found = [(f.listing_id, f.items) for f in fetched if f.items is not None]
    failures = [f for f in fetched if f.failure is not None]
    failed = frozenset(f.listing_id for f in failures)
    incomplete = failed | frozenset(
        listing_id for listing_id, items in found if any(isinstance(i, Reject) for i in items)
    )
    rows = [
        item if item.scope_id == listing_id else replace(item, scope_id=listing_id)
        for listing_id, items in found
        for item in items
        if isinstance(item, Row)
    ]
    rejects = tuple(item for _, items in found for item in items if isinstance(item, Reject))
    rejects += tuple(f.failure for f in failures if f.failure is not None)
    complete = [listing_id for listing_id, _ in found if listing_id not in incomplete]
    brand = client.brand.key
    written = (
        sink.replace_children(IMAGES_TABLE, brand, complete, rows)
        if complete
        else sink.upsert(IMAGES_TABLE, brand, rows)
    )
    return ImageBatch(len(found), written, rejects, incomplete, failed)


class ImageFetcher:
    """The image requests of a run, at the concurrency its limiter allows.

    Every attempt the client sends (retries included) is reported to the limiter, so a
    429 or 503 halves the concurrency even when its retry then succeeds.
    """

    def __init__(self, client: ReiClient, limiter: AimdLimiter) -> None:
        self.limiter = limiter
        self._client = client.observed(limiter.observe)
        self._pool = LimitedPool(limiter, thread_name_prefix="rei-image")

    def submit(self, listing_id: int) -> Future[FetchedImages]:
        return self._pool.submit(self._fetch, listing_id)

    def fetch_all(self, listing_ids: Sequence[int]) -> list[FetchedImages]:
        """The images of `listing_ids`, in their order (nothing stored)."""
        return self._pool.map(self._fetch, listing_ids)

    def close(self) -> None:
        self._pool.shutdown()

    def __enter__(self) -> ImageFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fetch(self, listing_id: int) -> FetchedImages:
        return fetch_images(self._client, listing_id)


def image_limiter(brand: str, *, start: int, cap: int) -> AimdLimiter:
    """A run's image limiter, its level shown as `rei_sync_image_concurrency{brand}`."""
    gauge = metrics.IMAGE_CONCURRENCY.labels(brand)
    return AimdLimiter(start=start, cap=cap, on_change=gauge.set)


def load_images(
    client: ReiClient, sink: Sink, listing_ids: Sequence[int], *, fetcher: ImageFetcher
) -> ImageBatch:
    """Fetch and store the images of `listing_ids`; returns what was written and rejected."""
    if not listing_ids:
        return ImageBatch(0, UpsertResult(), ())
    return store_images(client, sink, fetcher.fetch_all(listing_ids))
