"""Write the latest results into docs/BENCHMARKS.md (between its `<!-- results -->` markers).

.venv/bin/python -m bench.report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.harness import EXTRAS, RESULTS, render_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- results -->", "<!-- /results -->"


def section(result: dict[str, object], extras: dict[str, object]) -> str:
    machine = result["machine"]
    assert isinstance(machine, dict)
    return "\n".join(
        [
            BEGIN,
            f"Run of {result['when']}, N = {result['n_listings']:,} listings; "
            f"{machine['cores']} cores, {machine['memory_gb']} GB, Postgres "
            f"{machine['postgres']} ({machine['database']}), Python {machine['python']}, "
            f"{machine['platform']}.",
            "",
            render_table(result, extras, markdown=True),
            "",
            "`bench/results/latest.json`:",
            "",
            "```json",
            json.dumps(result, indent=2),
            "```",
            END,
        ]
    )


T_BEGIN, T_END = "<!-- targets -->", "<!-- /targets -->"


def targets(r: dict[str, Any], x: dict[str, Any]) -> str:
    """Each of the issue's targets: the measured ratio and whether it is met."""
    n = r["n_listings"]
    bare, bare4 = x.get("cold_properties_only_s"), x.get("cold_properties_only_rtt4ms_s")
    dlt = r.get("dlt_s")

    def row(goal: str, measured: str, met: bool | None) -> str:
        verdict = "n/a" if met is None else ("met" if met else "**not met**")
        return f"| {goal} | {measured} | {verdict} |"

    cold_bound = r["cold_s"] / r["bound_s"]
    lines = [
        T_BEGIN,
        "| target | measured (this run) | |",
        "|---|---|---|",
        row(
            "cold <= 1.25 x bound",
            f"{cold_bound:.2f} x (with images); {bare / r['bound_s']:.2f} x without"
            if bare
            else f"{cold_bound:.2f} x",
            cold_bound <= 1.25,
        ),
        row(
            "cold >= 10 x faster than dlt",
            "-"
            if dlt is None
            else f"{dlt / r['cold_s']:.2f} x (with images); "
            + (f"{dlt / bare:.2f} x without" if bare else ""),
            None if dlt is None else dlt / r["cold_s"] >= 10,
        ),
        row(
            ">= 5 x the seed algorithm's rows/s, local",
            f"{r['rei_rows_per_s'] / r['seed_algo_rows_per_s']:.2f} x; "
            + (f"{n / bare / r['seed_algo_rows_per_s']:.2f} x without images" if bare else ""),
            r["rei_rows_per_s"] / r["seed_algo_rows_per_s"] >= 5,
        ),
        row(
            ">= 50 x at +4 ms round trip",
            f"{r['rei_rows_per_s_rtt4ms'] / r['seed_algo_rows_per_s_rtt4ms']:.2f} x; "
            + (
                f"{n / bare4 / r['seed_algo_rows_per_s_rtt4ms']:.2f} x without images"
                if bare4
                else ""
            ),
            r["rei_rows_per_s_rtt4ms"] / r["seed_algo_rows_per_s_rtt4ms"] >= 50,
        ),
        row(
            "no-change writes 0 rows",
            str(r["nochange_rows_written"]),
            r["nochange_rows_written"] == 0,
        ),
        row(
            "no-change <= 1.1 x fetch-only",
            f"{r['nochange_s'] / r['fetch_only_s']:.2f} x (CLI); "
            + (
                f"{x['nochange_engine_s'] / r['fetch_only_s']:.2f} x engine only"
                if x.get("nochange_engine_s")
                else ""
            ),
            r["nochange_s"] / r["fetch_only_s"] <= 1.1,
        ),
        row(
            "one-percent writes exactly the changed rows",
            f"{r['one_pct_rows_written']} of {r['one_pct_changed']}",
            r["one_pct_rows_written"] == r["one_pct_changed"],
        ),
        row(
            "RSS at 200k <= 1.3 x RSS at 20k",
            f"{r['rss_mb_200k'] / r['rss_mb_20k']:.2f} x",
            r["rss_mb_200k"] / r["rss_mb_20k"] <= 1.3,
        ),
        row("RSS at 200k <= 150 MB", f"{r['rss_mb_200k']:.0f} MB", r["rss_mb_200k"] <= 150),
        row("get_valid_token <= 2 us", f"{r['token_get_us']:.3f} us", r["token_get_us"] <= 2),
        T_END,
    ]
    return "\n".join(lines)


def main() -> None:
    result = json.loads(RESULTS.read_text())
    extras = json.loads(EXTRAS.read_text()) if EXTRAS.exists() else {}
    text = DOC.read_text()
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    text = text[:start] + section(result, extras) + text[stop:]
    start, stop = text.index(T_BEGIN), text.index(T_END) + len(T_END)
    DOC.write_text(text[:start] + targets(result, extras) + text[stop:])
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
