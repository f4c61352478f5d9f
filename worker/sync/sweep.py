"""The image sweep: every active listing's images, `take` listings per batch, in id order.

The checkpoint is the last listing id whose images are stored (not an offset: the
active set may change between runs), so a resumed sweep continues with the ids after it.
A listing whose answer had rejected records keeps its stored images (none deleted) and
is not marked: the sweep writes no listing rows, its next run fetches it again.
"""

from __future__ import annotations

from worker.db.schema import IMAGES, RunStatus
from worker.sync.entities import ImageSweep
from worker.sync.images import ImageFetcher, load_images
from worker.sync.job import Job


def run_sweep(job: Job, sweep: ImageSweep) -> RunStatus:
    """The images of every active listing after the checkpoint (`job.start`)."""
    active = job.store.active_ids(sweep.listings, job.brand)
    listing_ids = sorted(i for i in active if i > job.start)
    with job.image_fetcher() as fetcher:
        return _sweep(job, listing_ids, fetcher)


def _sweep(job: Job, listing_ids: list[int], fetcher: ImageFetcher) -> RunStatus:
    run, take = job.run, job.options.take
    for offset in range(0, len(listing_ids), take):
        chunk = listing_ids[offset : offset + take]
        batch = load_images(job.client, job.store, chunk, fetcher=fetcher)
        job.record_rejects(IMAGES, batch.rejects)
        run.add(batch.written, pages=1, seen=len(chunk), rejected=len(batch.rejects))
        run.add_detail(
            "images",
            deleted=batch.written.deleted,
            listings=batch.listings,
            incomplete=len(batch.incomplete),
            failed=len(batch.failed),
        )
        run.checkpoint = chunk[-1]
        job.progress(True)
        if job.stopped():
            return RunStatus.ABORTED
    return RunStatus.SUCCEEDED
