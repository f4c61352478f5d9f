"""Image fetches against a local server (127.0.0.1, started here): a spell of 429s and
503s halves the concurrency, clean answers grow it again, and every listing's images
are still stored; the requests reuse their keep-alive connections (TCP accepts counted)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from worker.api.client import ReiClient
from worker.config import Brand
from worker.db.schema import Row, TableSpec, UpsertResult
from worker.retry import RetryPolicy
from worker.sync.concurrency import AimdLimiter
from worker.sync.images import ImageFetcher, load_images

LISTINGS = 600
FAULTY = range(100, 400)
"""Image requests (by arrival) of which every third is answered 429 or 503 in turn, both
with `Retry-After: 1` (waited on an injected sleep; a retry usually lands on a clean answer)."""


class ImageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ImageHandler)
        self.lock = threading.Lock()
        self.requests = 0
        self.refused = 0
        self.accepted = 0
        self.faulty = range(0)

    def get_request(self) -> tuple[Any, Any]:
        accepted = super().get_request()
        with self.lock:
            self.accepted += 1
        return accepted

    def answer(self) -> int:
        with self.lock:
            self.requests += 1
            number = self.requests
        if number in self.faulty and number % 3 == 0:
            with self.lock:
                self.refused += 1
            return 429 if number % 2 else 503
        return 200


class ImageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: ImageServer

    def do_GET(self) -> None:
        listing_id = int(self.path.rsplit("/", 1)[-1])
        status = self.server.answer()
        body = b"{}"
        if status == 200:
            body = orjson.dumps([image(listing_id, n) for n in range(2)])
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status != 200:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def image(listing_id: int, n: int) -> dict[str, Any]:
    return {
        "ListingId": listing_id,
        "PhotoId": listing_id * 10 + n,
        "Prioridad": n,
        "ImageUrl": f"https://img.example.com/{listing_id}/{n}.jpg",
        "Status": 1,
    }


class Tokens:
    def get_valid_token(self, brand: str) -> str:
        return "t"

    def force_refresh(self, brand: str, rejected: str | None = None) -> str:
        return "t"

    def mark_refused(self, brand: str, refused: str) -> None:
        return


class Sink:
    """Keeps the image rows written, per listing."""

    def __init__(self) -> None:
        self.stored: dict[int, set[int]] = {}

    def replace_children(
        self, spec: TableSpec, brand: str, parents: list[int], rows: list[Row]
    ) -> UpsertResult:
        for parent in parents:
            self.stored[parent] = set()
        for row in rows:
            assert row.scope_id is not None
            self.stored.setdefault(row.scope_id, set()).add(int(row.source_id))
        return UpsertResult(inserted=len(rows))


@pytest.fixture
def server() -> Iterator[ImageServer]:
    served = ImageServer()
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.shutdown()
        served.server_close()


def client(
    server: ImageServer, pool_connections: int, waits: list[float] | None = None
) -> ReiClient:
    brand = Brand(
        key="AZURA",
        api_url=f"http://127.0.0.1:{server.server_port}/api/v1",
        api_key=SecretStr("k"),
        integrator_id=SecretStr("i"),
        secret_key=SecretStr("s"),
    )
    retry = RetryPolicy(base_delay_seconds=0.0, sleep=(waits if waits is not None else []).append)
    return ReiClient(brand, Tokens(), retry=retry, pool_connections=pool_connections)


def fetch_in_batches(rei: ReiClient, limiter: AimdLimiter, sink: Sink) -> None:
    ids = list(range(1, LISTINGS + 1))
    with ImageFetcher(rei, limiter) as fetcher:
        for start in range(0, LISTINGS, 100):
            batch = load_images(rei, sink, ids[start : start + 100], fetcher=fetcher)  # type: ignore[arg-type]
            assert batch.failed == frozenset()


def test_throttling_halves_the_concurrency_then_clean_answers_grow_it_and_nothing_is_lost(
    server: ImageServer,
) -> None:
    server.faulty = FAULTY
    levels: list[int] = []
    # latency is the unit tests' business: a loaded machine's jitter must not stop growth here
    limiter = AimdLimiter(start=8, cap=16, latency_slack_seconds=1.0, on_change=levels.append)
    sink = Sink()
    waits: list[float] = []
    fetch_in_batches(client(server, pool_connections=16, waits=waits), limiter, sink)

    lowest = levels.index(min(levels))
    assert min(levels) < levels[0], levels  # down on the 429s and 503s...
    assert max(levels[lowest:]) > min(levels), levels  # ...and up again once they stop
    assert server.refused == 100
    assert server.requests == LISTINGS + server.refused  # each refused request retried...
    assert len(waits) == server.refused
    assert min(waits) >= 1.0  # ...after its Retry-After, the limiter only lowering the level
    assert sink.stored == {i: {i * 10, i * 10 + 1} for i in range(1, LISTINGS + 1)}


def test_image_requests_reuse_their_connections(server: ImageServer) -> None:
    cap = 16
    limiter = AimdLimiter(start=cap, cap=cap, floor=cap)
    sink = Sink()
    fetch_in_batches(client(server, pool_connections=cap), limiter, sink)

    assert len(sink.stored) == LISTINGS
    assert server.requests == LISTINGS
    assert server.accepted <= cap, f"{server.accepted} connections for {LISTINGS} requests"
