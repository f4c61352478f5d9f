"""The performance targets (issue 17) against one run's results: measured ratio, met or not.

Printed at the end of `python -m bench` and written into docs/BENCHMARKS.md by
`python -m bench.report`; every ratio is of two figures of the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    goal: str
    measured: str
    met: bool | None
    """None: the run has no figure for it (dlt not installed, say)."""

    @property
    def verdict(self) -> str:
        return "n/a" if self.met is None else ("met" if self.met else "**not met**")


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def _target(goal: str, value: float | None, fmt: str, ok: bool | None) -> Target:
    return Target(goal, "-" if value is None else fmt.format(value), ok)


def targets(r: dict[str, Any], x: dict[str, Any]) -> list[Target]:
    fetch, bound = r["fetch_only_s"], r["bound_s"]
    bare = x.get("cold_properties_only_s")
    cold_bound = _ratio(bare, bound)
    engine = _ratio(x.get("nochange_engine_s"), fetch)
    cli = _ratio(r["nochange_s"], fetch)
    dlt = _ratio(r.get("dlt_s"), bare)
    rei_rate = None if not bare else r["n_listings"] / bare
    seed = _ratio(rei_rate, r.get("seed_algo_rows_per_s"))
    ceiling = x.get("image_vs_ceiling")
    small, large = r["rss_mb_20k"], r["rss_mb_200k"]
    written = r["nochange_rows_written"]

    def at_most(value: float | None, limit: float) -> bool | None:
        return None if value is None else value <= limit

    def at_least(value: float | None, limit: float) -> bool | None:
        return None if value is None else value >= limit

    return [
        _target(
            "cold, properties only <= 1.5 x bound", cold_bound, "{:.2f} x", at_most(cold_bound, 1.5)
        ),
        Target(
            "no-change, engine only <= 1.3 x fetch-only, 0 rows",
            "-" if engine is None else f"{engine:.2f} x, {written} rows",
            None if engine is None else engine <= 1.3 and written == 0,
        ),
        _target("no-change through the CLI <= 2 x fetch-only", cli, "{:.2f} x", at_most(cli, 2)),
        _target("vs dlt merge, properties only >= 5 x faster", dlt, "{:.2f} x", at_least(dlt, 5)),
        _target(
            "vs the seed algorithm, properties only, loopback >= 5 x",
            seed,
            "{:.2f} x",
            at_least(seed, 5),
        ),
        _target(
            "image phase >= 90 % of the sandbox's request ceiling",
            ceiling,
            "{:.0%}",
            at_least(ceiling, 0.9),
        ),
        Target(
            "peak RSS, cold, 20k / 200k <= 120 MB",
            f"{small:.0f} / {large:.0f} MB",
            small <= 120 and large <= 120,
        ),
        Target(
            "one-percent writes exactly the changed rows",
            f"{r['one_pct_rows_written']} of {r['one_pct_changed']}",
            r["one_pct_rows_written"] == r["one_pct_changed"],
        ),
        Target("get_valid_token <= 2 us", f"{r['token_get_us']:.3f} us", r["token_get_us"] <= 2),
    ]


def render(found: list[Target], markdown: bool = False) -> str:
    if markdown:
        head = ["| target | measured (this run) | |", "|---|---|---|"]
        return "\n".join(head + [f"| {t.goal} | {t.measured} | {t.verdict} |" for t in found])
    width = max(len(t.goal) for t in found)
    return "\n".join(f"{t.goal:<{width}}  {t.measured:>16}  {t.verdict.strip('*')}" for t in found)
