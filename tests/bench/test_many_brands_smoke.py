"""`python -m bench.many_brands` at smoke size (3 brands × 10 listings, on 1 and on 3 daemons).

A benchmark, not a test: no time is asserted, only the shape and sanity of what it
reports, so the harness cannot rot. In this process (the daemons are processes of
their own either way); its scratch database, whose `public` schema it drops before
each case, is the per-test one.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from bench import many_brands
from worker.db.engine import libpq_url

pytestmark = pytest.mark.slow

BRANDS, LISTINGS, REPLICAS = 3, 10, (1, 3)
CASE_KEYS = {
    "replicas",
    "brands",
    "listings",
    "round_s",
    "until_done_s",
    "failed_runs",
    "peak_connections_total",
    "per_replica",
}
REPLICA_KEYS = {"peak_threads", "peak_db_connections", "runs", "share"}
SUCCEEDED = (
    "SELECT DISTINCT brand FROM sync_runs WHERE entity = 'properties' AND status = 'succeeded'"
)


def _over_tcp(url: str) -> bool:
    """Per-daemon connections are counted from its TCP sockets: a Unix socket reads 0."""
    host = psycopg.conninfo.conninfo_to_dict(libpq_url(url)).get("host") or ""
    return bool(host) and not str(host).startswith("/")


@pytest.mark.timeout(300)
def test_many_brands_runs_a_round_on_one_and_on_three_daemons(
    migrated_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, log = tmp_path / "many-brands.json", tmp_path / "daemons.log"
    many_brands.main(
        [
            *("--brands", str(BRANDS), "--listings", str(LISTINGS)),
            *("--replicas", *map(str, REPLICAS)),
            *("--database-url", migrated_db_url, "--out", str(out), "--log", str(log)),
            *("--timeout", "120"),
        ]
    )
    result = json.loads(out.read_text())
    assert set(result) == {"when", "machine", "cases"}
    assert result["machine"]["cpus"] >= 1
    cases = result["cases"]
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == cases

    assert [case["replicas"] for case in cases] == list(REPLICAS)
    for case in cases:
        assert set(case) == CASE_KEYS
        assert (case["brands"], case["listings"]) == (BRANDS, LISTINGS)
        assert case["failed_runs"] == 0
        assert 0 <= case["round_s"] <= case["until_done_s"]
        assert case["peak_connections_total"] > 0
        replicas = case["per_replica"]
        assert len(replicas) == case["replicas"]
        for replica in replicas:
            assert set(replica) == REPLICA_KEYS
            assert replica["peak_threads"] > 0
            if _over_tcp(migrated_db_url):
                assert replica["peak_db_connections"] > 0
        # Every brand ran (a run may repeat on a replica that started after it finished
        # elsewhere), and the shares are each replica's part of all the runs.
        runs = sum(replica["runs"] for replica in replicas)
        assert runs >= BRANDS
        assert sum(replica["share"] for replica in replicas) == pytest.approx(1.0, abs=0.002)
        for replica in replicas:
            assert replica["share"] == pytest.approx(replica["runs"] / runs, abs=0.0005)

    # The last case's round, in its database: every brand has a succeeded properties run.
    with psycopg.connect(libpq_url(migrated_db_url)) as connection:
        brands = {row[0] for row in connection.execute(SUCCEEDED)}
    assert brands == {f"BRAND{i:02d}" for i in range(1, BRANDS + 1)}
