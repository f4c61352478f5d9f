"""deploy/grafana/rei-sync.json and the alert rules name only metrics a running daemon exports.

A `rei-sync run` subprocess syncs the sandbox (on 127.0.0.1) once; its `/metrics` is
scraped and parsed, and every `rei_sync_*` name in every dashboard query and alert rule
must be one of the exported families (with the suffixes its type has: `_total`,
`_bucket`, `_info`, ...). A renamed or removed metric breaks this test, not a dashboard
nobody looks at until the night it is needed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon.conftest import DaemonFactory, wait_for
from worker.sandbox import SandboxConfig, SandboxServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "rei-sync.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
METRIC_NAME = re.compile(r"\brei_sync_[a-zA-Z0-9_]+")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "summary": ("_sum", "_count", "_created"),
}
EnvFactory = Callable[..., dict[str, str]]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(seed=3, listings=30, associates=5)
    with SandboxServer(config, port=0).start() as server:
        yield server


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    queries += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return queries


def alert_queries() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def exported_names(text: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


def test_the_dashboard_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for needed in (
        "token",
        "last success",
        "duration",
        "rows changed",
        "reject",
        "latency",
        "retries",
        "lease holder",
        "errors",
        "request rate",
    ):
        assert needed in titles, needed
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            # Every per-brand query follows the brand selector; the replica panels need none.
            if "brand" in target["expr"]:
                assert 'brand=~"$brand"' in target["expr"], panel["title"]


def test_every_dashboard_and_alert_query_names_only_exported_metrics(
    sandbox: SandboxServer, daemon_env: EnvFactory, start_daemon: DaemonFactory
) -> None:
    env = daemon_env(sandbox, RUN_AT_START="1", SYNC_PROPERTIES_SCHEDULE="1h")
    daemon = start_daemon(env)
    scrape = wait_for(
        lambda: (
            (r := daemon.get("/metrics")).status_code == 200
            and 'rei_sync_runs_total{brand="AZURA",entity="properties"' in r.text
            and 'rei_sync_runs_total{brand="BLUE_OCEAN",entity="properties"' in r.text
            and r.text
        ),
        90,
        "a finished properties run of both brands in /metrics",
    )
    exported = exported_names(scrape)
    used: dict[str, list[str]] = {}
    for query in [*dashboard_queries(), *alert_queries()]:
        for name in METRIC_NAME.findall(query):
            used.setdefault(name, []).append(query)
    missing = {name: queries[0] for name, queries in used.items() if name not in exported}
    assert missing == {}
    # The live series the dashboard's per-brand panels draw from are really there.
    assert 'endpoint="GetProperties/take/{n}/skip/{n}"' in scrape
    assert 'rei_sync_image_fetches_total{brand="AZURA",outcome="ok"}' in scrape
    assert 'rei_sync_token_expiry_timestamp_seconds{brand="BLUE_OCEAN"}' in scrape
    assert re.search(r'rei_sync_build_info\{python="[\d.]+",version="[^"]+"\} 1\.0', scrape)
    assert daemon.terminate() == 0


def test_the_name_check_catches_an_unknown_metric() -> None:
    exported = exported_names(
        "# TYPE rei_sync_runs counter\n# TYPE rei_sync_run_duration_seconds histogram\n"
    )
    assert "rei_sync_runs_total" in exported
    assert "rei_sync_run_duration_seconds_bucket" in exported
    assert "rei_sync_scheduled_runs_total" not in exported
    assert "rei_sync_runs" not in exported
