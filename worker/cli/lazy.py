"""The `rei-sync` group that imports a command's module only when that command runs.

Every command module pulls in what its commands need (the feed, the status page, the
daemon's scheduler, Alembic, rich tables): importing them all cost a `sync` about half a
second before it did anything. `LazyGroup` lists the commands by name alone and builds
one from its module on first use; only `rei-sync --help` loads them all (for the
one-line help of each).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer._click import Command, Context  # typer's own copy of click, which its groups use
from typer.core import TyperGroup

COMMANDS: dict[str, str] = {
    "sandbox": "worker.cli.sandbox:register",
    "migrate": "worker.cli.service:register_setup",
    "demo": "worker.cli.service:register_setup",
    "sync": "worker.cli.sync:register",
    "backfill": "worker.cli.sync:register",
    "run": "worker.cli.service:register_daemon",
    "doctor": "worker.cli.service:register_daemon",
    "config": "worker.cli.config:register",
    "status": "worker.cli.status:register",
    "events": "worker.cli.feed:register",
    "runs": "worker.cli.sync:register",
    "webhooks": "worker.cli.feed:register",
    "token": "worker.cli.token:register",
}
"""Each command, in the order of `rei-sync --help`, and the `module:function` that adds it
(with its siblings) to a Typer app. tests/cli/test_import_budget.py checks the two agree."""


def load_commands(target: str) -> dict[str, Command]:
    """The click commands that `target` (`module:function`) registers, by name."""
    module_name, function = target.split(":")
    register = getattr(importlib.import_module(module_name), function)
    holder = typer.Typer(
        add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None
    )
    register(holder)
    return dict(typer.main.get_group(holder).commands)


class LazyCommands(MutableMapping[str, Command]):
    """A group's commands: every name of `COMMANDS` is a key, its command is built on first
    lookup. Names alone (`keys()`, `in`) load nothing: Typer's "Did you mean 'sync'?" and
    the tests listing the commands read them without importing every module."""

    def __init__(self) -> None:
        self._loaded: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded and name in COMMANDS:
            self._loaded.update(load_commands(COMMANDS[name]))
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._loaded

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*COMMANDS, *self._loaded]))

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._loaded))


class LazyGroup(TyperGroup):
    """The root group: its commands are `LazyCommands`."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands()

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)
