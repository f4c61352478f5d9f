"""Issue 14, point 3: record content never travels in an error text.

A hostile API answers with bodies full of private values (a truncated page, an error
page echoing them); the run's error, `sync_runs.error`, the status page, `/status.json`
and the logs (the leak guard) must hold none of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import Figures
from tests.security.hostile import HostileServer, fixed, serving
from worker.api.client import ReiClient
from worker.config import Brand
from worker.db.engine import create_db_engine
from worker.retry import RetryPolicy
from worker.sinks.postgres import PostgresSink
from worker.status.model import JobInfo
from worker.status.page import render_html
from worker.status.payload import render_json
from worker.status.source import StatusSource
from worker.sync.engine import sync_entity

PRIVATE = {
    "ownerName": "Jane Privateowner",
    "ownerEmail": "jane.privateowner@example.com",
    "ownerPhones": "+297 555 0199 77",
    "privateRemarks_en": "key under the blue flowerpot",
    "birthDay": "1961-04-02T00:00:00",
}
RECORD = b'{"listingId": 700001, "listingTitle_en": "Villa", ' + b", ".join(
    f'"{k}": "{v}"'.encode() for k, v in PRIVATE.items()
)
BODIES = {
    "truncated page": (200, b'{"result": [' + RECORD + b"}, " + RECORD, "application/json"),
    "HTML error page": (500, b"<html><title>" + RECORD + b"</title></html>", "text/html"),
    "JSON error echoing": (
        404,
        b'{"Message": "' + RECORD.replace(b'"', b"'") + b'"}',
        "application/json",
    ),
    "XML error echoing": (
        503,
        b"<Error><Message>" + RECORD + b"</Message></Error>",
        "application/xml",
    ),
    "plain text": (502, RECORD, "text/plain"),
}


class _Tokens:
    def get_valid_token(self, brand: str) -> str:
        return "token-" + "t" * 40

    def force_refresh(self, brand: str, rejected: str | None = None) -> str:
        return "token-" + "t" * 40


@pytest.fixture
def api() -> Iterator[HostileServer]:
    with serving() as server:
        yield server


def test_error_texts_describe_bodies_and_never_quote_them(
    api: HostileServer, migrated_db_url: str, ledger: SecretLedger, figures: Figures
) -> None:
    ledger.add(*PRIVATE.values())
    brand = Brand(
        key="AZURA",
        api_url=api.api_url,
        api_key=SecretStr("k" * 24),
        integrator_id=SecretStr("i" * 24),
        secret_key=SecretStr("s" * 24),
    )
    engine = create_db_engine(migrated_db_url)
    sink = PostgresSink(engine)
    client = ReiClient(brand, _Tokens(), retry=RetryPolicy(max_attempts=2, sleep=lambda _: None))
    found = 0
    try:
        for status, body, content_type in BODIES.values():
            api.routes["/api/v1/GetProperties"] = fixed(status, body, Content_Type=content_type)
            result = sync_entity(client, sink, "properties")
            assert result.status == "failed"
            assert result.error is not None
            assert "bytes, sha256" in result.error
            with engine.connect() as c:
                stored = c.execute(
                    sa.text("SELECT error FROM sync_runs WHERE id = :i"), {"i": result.run_id}
                ).scalar_one()
            source = StatusSource(
                engine, sink, list, lambda: [JobInfo("AZURA", "properties", "every 15m")]
            )
            view = source.view()
            outputs = {
                "run error": result.error,
                "sync_runs.error": stored,
                "status page": render_html(view),
                "status.json": render_json(view),
            }
            for where, text in outputs.items():
                ledger.output(where, text)
                found += sum(1 for value in PRIVATE.values() if value in text)
            assert found == 0
    finally:
        engine.dispose()
    figures.record(
        27,
        "error bodies full of record content",
        injected="GetProperties answers a truncated 200 page, an HTML 500, a JSON 404, an XML "
        "503 and a plain-text 502, each holding owner name, e-mail, phones, private remarks "
        "and a birthday; the run error, sync_runs.error, status page, /status.json and logs "
        "are searched",
        times=len(BODIES),
        runs=len(BODIES),
        failed_runs=len(BODIES),
        observed={"cases tried": len(BODIES), "private values in any output": found},
    )
