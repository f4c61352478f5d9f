"""The issue's targets read off one run: each ratio is of two figures of that run."""

from __future__ import annotations

from typing import Any

from bench.targets import render, targets


def run(**changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    result = {
        "n_listings": 1000,
        "fetch_only_s": 1.0,
        "bound_s": 2.0,
        "nochange_s": 1.9,
        "nochange_rows_written": 0,
        "dlt_s": 20.0,
        "seed_algo_rows_per_s": 50.0,
        "rss_mb_20k": 110.0,
        "rss_mb_200k": 118.0,
        "one_pct_rows_written": 10,
        "one_pct_changed": 10,
        "token_get_us": 0.3,
    }
    extras = {"cold_properties_only_s": 2.9, "nochange_engine_s": 1.25, "image_vs_ceiling": 0.93}
    for key, value in changes.items():
        (extras if key in extras else result)[key] = value
    return result, extras


def verdicts(result: dict[str, Any], extras: dict[str, Any]) -> list[bool | None]:
    return [t.met for t in targets(result, extras)]


def test_a_run_within_every_target_meets_them_all() -> None:
    assert verdicts(*run()) == [True] * 9


def test_each_target_is_missed_on_its_own_figure() -> None:
    missed = {
        0: run(cold_properties_only_s=3.1),
        1: run(nochange_rows_written=1),
        2: run(nochange_s=2.1),
        3: run(dlt_s=14.0),
        4: run(seed_algo_rows_per_s=70.0),
        5: run(image_vs_ceiling=0.89),
        6: run(rss_mb_200k=121.0),
        7: run(one_pct_rows_written=11),
    }
    for index, figures in missed.items():
        found = verdicts(*figures)
        assert found[index] is False, index
        assert found.count(False) == 1, (index, found)


def test_a_case_the_run_skipped_is_not_applicable() -> None:
    result, extras = run(dlt_s=None)
    del extras["image_vs_ceiling"]
    found = targets(result, extras)
    met = [t.met for t in found]
    assert met[3] is None
    assert met[5] is None
    assert "n/a" in render(found, markdown=True)
