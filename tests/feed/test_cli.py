"""`rei-sync events` and `rei-sync webhooks …` in-process, the feed's settings, retention,
and the one line the REST sink answers with."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.feed.receiver import Receiver
from tests.feed.retention import insert_old_and_new_rejects
from tests.feed.test_delivery import SECRET, insert_events
from worker.cli.app import app
from worker.config import BRAND_VAR, load_settings
from worker.errors import ConfigError
from worker.feed.build import NEEDS_DATABASE, prune, require_feed_database
from worker.feed.store import FeedStore

runner = CliRunner()
HOOK_URL_TOKEN = "tok-9b1e5d77"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(SECRET) as r:
        yield r


@pytest.fixture
def env(
    migrated_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if BRAND_VAR.match(name) or name.startswith("REI_WEBHOOK_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    values = {
        "DATABASE_URL": migrated_db_url,
        "REI_WEBHOOK_SITE_URL": f"{receiver.url}?token={HOOK_URL_TOKEN}",
        "REI_WEBHOOK_SITE_SECRET": SECRET,
        "COLUMNS": "200",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_webhooks_are_discovered_in_pairs_and_their_values_are_secrets() -> None:
    settings = load_settings(
        environ={
            "REI_WEBHOOK_SITE_URL": "https://www.example.com/api/hook?t=abc",
            "REI_WEBHOOK_SITE_SECRET": "s3cret-value",
            "REI_WEBHOOK_MAIL_URL": "https://mail.example.com/in",
            "REI_WEBHOOK_MAIL_SECRET": "other-secret",
        },
        env_file=None,
        require_brands=False,
    )
    assert [w.name for w in settings.webhooks] == ["mail", "site"]
    assert settings.webhooks[1].display_url == "https://www.example.com"
    assert {"s3cret-value", "https://www.example.com/api/hook?t=abc"} <= set(
        settings.secret_values()
    )
    assert "s3cret-value" not in repr(settings)
    with pytest.raises(ConfigError) as missing:
        load_settings(
            environ={"REI_WEBHOOK_SITE_URL": "https://x.example/h"},
            env_file=None,
            require_brands=False,
        )
    assert missing.value.variable == "REI_WEBHOOK_SITE_SECRET"
    with pytest.raises(ConfigError) as plain:
        load_settings(
            environ={"REI_WEBHOOK_SITE_URL": "http://x.example/h", "REI_WEBHOOK_SITE_SECRET": "s"},
            env_file=None,
            require_brands=False,
        )
    assert plain.value.variable == "REI_WEBHOOK_SITE_URL"


def test_the_rest_sink_says_the_feed_needs_a_direct_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    rest = {"SUPABASE_URL": "https://ref.supabase.co", "SUPABASE_SERVICE_ROLE_KEY": "srk-1"}
    with pytest.raises(ConfigError, match="needs a direct database connection"):
        require_feed_database(load_settings(environ=rest, env_file=None, require_brands=False))
    for args in (["events"], ["webhooks", "status"], ["webhooks", "resume", "site"]):
        result = runner.invoke(app, args, env=rest)
        assert result.exit_code == 2, (args, result.output)
        assert NEEDS_DATABASE in result.output.replace("\n", " ")


def test_events_are_listed_filtered_and_printed_as_json(
    env: dict[str, str], db_engine: sa.Engine
) -> None:
    insert_events(db_engine, range(1, 4))
    insert_events(db_engine, range(7, 8), kind="delisted")
    with db_engine.begin() as c:
        c.execute(sa.text("UPDATE sync_events SET brand = 'BLUE' WHERE source_id = 3"))
    result = runner.invoke(app, ["events", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [e["source_id"] for e in lines] == [1, 2, 3, 7]
    assert lines[0]["idempotency_key"] == f"rei-sync-event-{lines[0]['id']}"
    only = runner.invoke(app, ["events", "--json", "--kind", "delisted"])
    assert [json.loads(x)["source_id"] for x in only.output.splitlines()] == [7]
    blue = runner.invoke(app, ["events", "--json", "--brand", "blue"])
    assert [json.loads(x)["source_id"] for x in blue.output.splitlines()] == [3]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert runner.invoke(app, ["events", "--json", "--since", later]).output == ""
    table = runner.invoke(app, ["events"])
    assert table.exit_code == 0
    assert "delisted" in table.output
    both = runner.invoke(app, ["events", "--since", later, "--run", "1"])
    assert both.exit_code == 2
    bad = runner.invoke(app, ["events", "--kind", "sold"])
    assert bad.exit_code == 2


def test_webhooks_test_signs_a_sample_and_status_shows_no_url_or_secret(
    env: dict[str, str], receiver: Receiver, db_engine: sa.Engine
) -> None:
    sent = runner.invoke(app, ["webhooks", "test", env["REI_WEBHOOK_SITE_URL"]])
    assert sent.exit_code == 0, sent.output
    assert "site: delivered, HTTP 204" in sent.output
    assert receiver.bad_signatures == 0
    assert [e["kind"] for e in receiver.events()] == ["price_changed"]
    unknown = runner.invoke(app, ["webhooks", "test", "https://elsewhere.example/hook"])
    assert unknown.exit_code == 2
    insert_events(db_engine, range(1, 3))
    status = runner.invoke(app, ["webhooks", "status"])
    assert status.exit_code == 0, status.output
    assert "site" in status.output
    assert "active" in status.output
    for text in (sent.output, status.output):
        assert HOOK_URL_TOKEN not in text
        assert SECRET not in text
    FeedStore(db_engine).record_failure("site", "HTTP 500", max_failures=1)
    assert "paused" in runner.invoke(app, ["webhooks", "status"]).output
    assert runner.invoke(app, ["webhooks", "resume", "site"]).exit_code == 0
    assert not FeedStore(db_engine).cursor("site").paused


def test_retention_prunes_old_events_and_rejects_only(db_engine: sa.Engine) -> None:
    insert_events(db_engine, range(1, 5))
    insert_old_and_new_rejects(db_engine)
    with db_engine.begin() as c:
        c.execute(
            sa.text(
                "UPDATE sync_events SET created_at = now() - interval '91 days' "
                "WHERE source_id <= 2"
            )
        )
    settings = load_settings(environ={"RETENTION_DAYS": "90"}, env_file=None, with_brands=False)
    now = datetime.now(UTC).timestamp()
    assert prune(settings, db_engine, now) == (2, 1)
    with db_engine.connect() as c:
        left = c.execute(sa.text("SELECT source_id FROM sync_events ORDER BY 1")).scalars().all()
        reasons = c.execute(sa.text("SELECT reason FROM sync_rejects")).scalars().all()
    assert left == [3, 4]
    assert reasons == ["new"]
