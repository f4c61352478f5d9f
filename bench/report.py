"""Write the saved runs into docs/BENCHMARKS.md, each between its markers.

.venv/bin/python -m bench.report

`bench/results/latest.json` (+ `latest-extra.json`): the last `python -m bench`, at the
default N = 100,000, between `<!-- results -->` and `<!-- targets -->`;
`bench/results/n20000.json` (+ `n20000-extra.json`): a run at `BENCH_N=20000`, copied
there from `latest*.json` after it, between `<!-- results-20k -->` and `<!-- targets-20k -->`.
A run whose file or markers are missing is left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.harness import EXTRAS, RESULTS, render_table
from bench.targets import render, targets

DOC = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
RUNS = (
    (RESULTS, EXTRAS, ""),
    (RESULTS.with_name("n20000.json"), EXTRAS.with_name("n20000-extra.json"), "-20k"),
)
"""(results, extras, marker suffix) of every run the document shows."""


def _markers(name: str, suffix: str) -> tuple[str, str]:
    return f"<!-- {name}{suffix} -->", f"<!-- /{name}{suffix} -->"


def section(result: dict[str, object], extras: dict[str, object], suffix: str = "") -> str:
    machine = result["machine"]
    assert isinstance(machine, dict)
    begin, end = _markers("results", suffix)
    return "\n".join(
        [
            begin,
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
            end,
        ]
    )


def targets_section(r: dict[str, Any], x: dict[str, Any], suffix: str = "") -> str:
    """Each of the issue's targets: the measured ratio and whether it is met."""
    begin, end = _markers("targets", suffix)
    return "\n".join([begin, render(targets(r, x), markdown=True), end])


def _replace(text: str, name: str, suffix: str, new: str) -> str:
    begin, end = _markers(name, suffix)
    start, stop = text.index(begin), text.index(end) + len(end)
    return text[:start] + new + text[stop:]


def main() -> None:
    text = DOC.read_text()
    for results, extras_file, suffix in RUNS:
        if not results.exists() or _markers("results", suffix)[0] not in text:
            continue
        result = json.loads(results.read_text())
        extras = json.loads(extras_file.read_text()) if extras_file.exists() else {}
        text = _replace(text, "results", suffix, section(result, extras, suffix))
        text = _replace(text, "targets", suffix, targets_section(result, extras, suffix))
        print(f"{results.name} -> {DOC.name}")
    DOC.write_text(text)


if __name__ == "__main__":
    main()
