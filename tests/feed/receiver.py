"""A webhook receiver on 127.0.0.1 for tests: checks every signature, records every batch,
and answers 500 while `fail_next` is above zero."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from worker.feed.signing import SIGNATURE_HEADER, verify


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.lock = threading.Lock()
        self.batches: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        self.bad_signatures = 0
        self.answers: list[int] = []
        self.fail_next = 0
        self.hold_at: int | None = None
        """The POST (0-based, counting every POST) to hold until `release` is set."""
        self.held = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signed = verify(
                    receiver.secret, self.headers.get(SIGNATURE_HEADER, ""), body, now=time.time()
                )
                with receiver.lock:
                    receiver.bodies.append(body)
                    hold = receiver.hold_at == len(receiver.bodies) - 1
                if hold:
                    receiver.held.set()
                    receiver.release.wait(60)
                with receiver.lock:
                    if not signed:
                        receiver.bad_signatures += 1
                        status = 401
                    elif receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        status = 500
                    else:
                        receiver.batches.append(json.loads(body))
                        status = 204
                    receiver.answers.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/rei"

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [event for batch in self.batches for event in batch["events"]]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
