"""The benchmark harness at smoke size (N = 2,000): it runs end to end and reports every key.

No time is asserted (benchmarks never gate CI on absolute times); only that each case
ran and that the correctness cases hold: no-change writes nothing, one-percent writes
exactly the changed listings. dlt is skipped when the `bench` extra is not installed.
"""

from __future__ import annotations

import pytest

from bench.harness import RESULT_KEYS, Config, dlt_available, render_table, run

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)
def test_the_harness_runs_every_case_at_smoke_size() -> None:
    config = Config(
        n=2_000,
        rss_small=500,
        rss_large=1_000,
        seed_n=300,
        seed_rtt_n=100,
        image_sample=200,
        database_url=None,
        results=None,
        extras=None,
        skip_dlt=not dlt_available(),
    )
    outcome = run(config)
    result, extras = outcome["result"], outcome["extras"]
    assert set(result) == {*RESULT_KEYS, "machine", "when"}
    assert result["n_listings"] == 2_000
    for key in RESULT_KEYS:
        if key == "dlt_s" and config.skip_dlt:
            assert result[key] is None
            continue
        assert isinstance(result[key], int | float), key
    assert result["nochange_rows_written"] == 0
    assert result["one_pct_changed"] > 0
    assert result["one_pct_rows_written"] == result["one_pct_changed"]
    assert result["bound_s"] == max(result["fetch_only_s"], result["copy_only_s"])
    assert result["machine"]["cores"] >= 1
    assert "cold_properties_only_s" in extras
    assert "seed algorithm" in render_table(result, extras)
