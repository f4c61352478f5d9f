"""The import rules of docs/ARCHITECTURE.md ("Rooms and arrows"), checked by import-linter.

The contracts live in pyproject.toml (`[tool.importlinter]`); a broken one is printed
with the importing line, so an arrow that must never exist cannot come back unnoticed.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest
from importlinter import cli

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
UNLAYERED = {"__main__", "sandbox"}  # the entry shim; the emulator has contracts of its own


def test_every_import_contract_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    # import-linter configures logging with `disable_existing_loggers`: the loggers other
    # tests log through are enabled again afterwards, so the order of tests does not matter.
    loggers = logging.Logger.manager.loggerDict.values()
    enabled = [lg for lg in loggers if isinstance(lg, logging.Logger) and not lg.disabled]
    try:
        status = cli.lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    finally:
        for logger in enabled:
            logger.disabled = False
    assert status == cli.EXIT_STATUS_SUCCESS, "import-linter found a broken contract (above)"


def test_every_room_has_a_layer() -> None:
    """A new top-level module must be placed in the layers, or the rules would not see it."""
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    (layers,) = (c["layers"] for c in config["contracts"] if c["type"] == "layers")
    layered = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    rooms = {
        f"worker.{path.stem}"
        for path in (ROOT / "worker").iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists())
        and path.stem not in UNLAYERED | {"__init__"}
    }
    assert rooms - layered == set(), "add these to [tool.importlinter] layers in pyproject.toml"
