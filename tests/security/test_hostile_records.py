"""Issue 14, point 5 end to end: one hostile record is one reject, never a failed run.

A hostile API serves a page whose records include a lone surrogate escape and nesting
past orjson's limit (so the page cannot be decoded whole), another nested past the
normaliser's bound, and a literal backslash-u0000; the run stores the good records and
rejects only the bad ones."""

from __future__ import annotations

import sqlalchemy as sa
from prometheus_client import REGISTRY
from pydantic import SecretStr

from tests.reliability.conftest import Figures
from tests.security.hostile import fixed, serving
from worker.api.client import ReiClient
from worker.config import Brand
from worker.db.engine import create_db_engine
from worker.retry import RetryPolicy
from worker.sinks.postgres import PostgresSink
from worker.status.model import JobInfo
from worker.status.page import render_html
from worker.status.source import StatusSource
from worker.sync.engine import sync_entity
from worker.sync.normalise import MAX_DEPTH


class _Tokens:
    def get_valid_token(self, brand: str) -> str:
        return "token-" + "t" * 40

    def force_refresh(self, brand: str, rejected: str | None = None) -> str:
        return "token-" + "t" * 40


def record(listing_id: int, extra: bytes = b"") -> bytes:
    return b'{"listingId": %d, "listingTitle_en": "Villa %d"%s}' % (listing_id, listing_id, extra)


CELL = b"+297 555 0142 99"


def nested(depth: int) -> bytes:
    return b'{"x": ' * depth + b"1" + b"}" * depth


PAGE = (
    b'{"result": ['
    + b", ".join(
        [
            record(801, b', "ownerCellPhone": "' + CELL + b'"'),
            record(802, b', "listingTitle_es": "bad \\ud800 title"'),
            record(803, b', "garageNotes": ' + nested(2000)),
            record(804, b', "viewNotes": ' + nested(MAX_DEPTH + 5)),
            record(805, b', "publicRemarks_en": "C:\\\\u0000 literal"'),
            record(806),
        ]
    )
    + b"]}"
)


def test_a_page_with_hostile_records_loses_only_them(
    migrated_db_url: str, figures: Figures
) -> None:
    with serving() as api:
        api.routes["/api/v1/GetProperties/take/100/skip/0"] = fixed(200, PAGE)
        api.routes["/api/v1/GetProperties"] = fixed(200, b'{"result": []}')
        api.routes["/api/v1/propertyimages"] = fixed(200, b"[]")
        brand = Brand(
            key="AZURA",
            api_url=api.api_url,
            api_key=SecretStr("k" * 24),
            integrator_id=SecretStr("i" * 24),
            secret_key=SecretStr("s" * 24),
        )
        engine = create_db_engine(migrated_db_url)
        try:
            client = ReiClient(
                brand, _Tokens(), retry=RetryPolicy(max_attempts=2, sleep=lambda _: None)
            )
            result = sync_entity(client, PostgresSink(engine), "properties")
            with engine.connect() as c:
                stored = dict(
                    c.execute(
                        sa.text("SELECT listing_id, raw->>'publicRemarks_en' FROM properties")
                    ).all()
                )
                rejected = dict(
                    c.execute(sa.text("SELECT source_id, reason FROM sync_rejects")).all()
                )
                public_text = "\n".join(
                    c.execute(sa.text("SELECT row_to_json(p)::text FROM properties p")).scalars()
                )
            sink = PostgresSink(engine)
            view = StatusSource(
                engine, sink, list, lambda: [JobInfo("AZURA", "properties", "every 15m")]
            ).view()
            page = render_html(view)
        finally:
            engine.dispose()
    assert result.status == "succeeded_with_rejects", result.error
    assert sorted(stored) == [801, 805, 806]
    assert result.details["fields"]["unknown"] == {"ownerCellPhone": 1}
    assert "unknown 1 (ownerCellPhone)" in page
    assert CELL.decode() not in public_text
    assert CELL.decode() not in page
    assert REGISTRY.get_sample_value(
        "rei_sync_record_fields_total",
        {"brand": "AZURA", "entity": "properties", "kind": "unknown"},
    )
    assert stored[805] == "C:\\u0000 literal"
    assert sorted(rejected) == ["802", "803", "804"]
    assert "not valid Unicode" in rejected["802"]
    assert "too deep" in rejected["803"]
    assert "nested deeper" in rejected["804"]
    figures.record(
        30,
        "hostile records in one page",
        injected="one GetProperties page of 6 records: a lone surrogate escape, nesting of "
        f"2,000 levels (orjson refuses the page), nesting of {MAX_DEPTH + 5} levels, a "
        "literal backslash-u0000, two plain records",
        times=1,
        runs=1,
        failed_runs=int(result.status == "failed"),
        observed={
            "records stored": len(stored),
            "records rejected": len(rejected),
            "backslash-u0000 stored byte-exact": stored[805] == "C:\\u0000 literal",
            "unknown field kept private and counted": 1,
        },
    )
