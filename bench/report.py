"""Write the latest results into docs/BENCHMARKS.md (between its `<!-- results -->` markers).

.venv/bin/python -m bench.report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.harness import EXTRAS, RESULTS, render_table
from bench.targets import render, targets

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


def targets_section(r: dict[str, Any], x: dict[str, Any]) -> str:
    """Each of the issue's targets: the measured ratio and whether it is met."""
    return "\n".join([T_BEGIN, render(targets(r, x), markdown=True), T_END])


def main() -> None:
    result = json.loads(RESULTS.read_text())
    extras = json.loads(EXTRAS.read_text()) if EXTRAS.exists() else {}
    text = DOC.read_text()
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    text = text[:start] + section(result, extras) + text[stop:]
    start, stop = text.index(T_BEGIN), text.index(T_END) + len(T_END)
    DOC.write_text(text[:start] + targets_section(result, extras) + text[stop:])
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
