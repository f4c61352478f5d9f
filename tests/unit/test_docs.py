"""The docs a newcomer reads first must match the code: quick start, CI, configuration."""

from __future__ import annotations

import re
from pathlib import Path

from worker.config import DISCOVERED, WEBHOOK_PARTS, Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SETTINGS = {name.upper() for name in Settings.model_fields if name not in DISCOVERED}
BRAND_VARIABLES = {
    f"REMAX_<BRAND>_{part}" for part in ("API_URL", "API_KEY", "INTEGRATOR_ID", "SECRET_KEY")
} | {f"REI_WEBHOOK_<NAME>_{part}" for part in WEBHOOK_PARTS}


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def test_quick_start_is_exactly_two_commands_demo_then_tests() -> None:
    block = re.search(r"```\w*\n(.*?)```", section("Quick start"), re.DOTALL)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:.*\n(\t.*\n)*\t\$\(BIN\)/rei-sync demo$", makefile, re.MULTILINE)


def test_ci_runs_the_readme_test_command() -> None:
    ci = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert "make test" in ci


def test_configuration_table_lists_every_setting_and_nothing_else() -> None:
    documented = set(
        re.findall(r"^\| `([A-Z][A-Z0-9_<>]+)` \|", section("Configuration"), re.MULTILINE)
    )
    assert documented == SETTINGS | BRAND_VARIABLES


def test_env_example_mentions_every_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    mentioned = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert SETTINGS - mentioned == set()


def test_make_demo_installs_only_what_the_demo_needs_and_says_each_step() -> None:
    """The demo needs rei-sync's runtime dependencies; the dev tool chain (pytest, mypy,
    playwright, …) comes with the targets that use it."""
    makefile = (ROOT / "Makefile").read_text()
    demo = re.search(r"^demo: (.*)$", makefile, re.MULTILINE)
    assert demo is not None
    assert demo.group(1).split() == ["$(RUNTIME)"]
    runtime = re.search(r"^\$\(RUNTIME\):.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert runtime is not None
    assert "pip install --quiet -e '.[embedded]'\n" in runtime.group(1)
    assert "[dev]" not in runtime.group(1)
    for target in ("lint", "typecheck", "unit"):
        assert re.search(rf"^{target}: \$\(STAMP\)$", makefile, re.MULTILINE), target
    recipes = re.findall(r"^\t(@?)(.*)$", makefile, re.MULTILINE)
    quiet_installs = [line for at, line in recipes if "pip install" in line and not at]
    assert quiet_installs == []  # each install step announces itself with one echo line
