"""The `rei-sync` group that imports a command's module only when that command runs.

Every command module pulls in what its commands need (the feed, the status page, the
daemon's scheduler, Alembic, rich tables): importing them all cost a `sync` about half a
second before it did anything. `LazyGroup` lists the commands by name alone and builds
one from its module on first use; only `rei-sync --help` loads them all (for the
one-line help of each).
"""

from __future__ import annotations

import importlib

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
(with its siblings) to a Typer app. tests/unit/test_cli_imports.py checks the two agree."""


def load_commands(target: str) -> dict[str, Command]:
    """The click commands that `target` (`module:function`) registers, by name."""
    module_name, function = target.split(":")
    register = getattr(importlib.import_module(module_name), function)
    holder = typer.Typer(
        add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None
    )
    register(holder)
    return dict(typer.main.get_group(holder).commands)


class LazyGroup(TyperGroup):
    """The root group: `COMMANDS` by name, each built from its module on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands.update(load_commands(COMMANDS[cmd_name]))
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] not in COMMANDS:
            # Typer's "Did you mean 'sync'?" looks among the loaded commands: load them all.
            for name in COMMANDS:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)
