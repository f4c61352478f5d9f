"""`rei-sync sandbox`: start the REI API CCA emulator, print the brands' env lines, serve.

Its options are the config's fields (`worker.sandbox.options.OPTIONS`): the
command's signature is built from them, so a new knob needs no code here.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

import typer

from worker.sandbox.config import SandboxConfig
from worker.sandbox.options import OPTIONS, OptionError, config_from_options


def sandbox_command(**values: Any) -> None:
    """Run the REI API CCA sandbox: seeded brands, real quirks, fault and churn knobs.

    Prints REMAX_<BRAND>_* lines for `.env`, then serves until Ctrl-C. Knobs can be
    changed at run time through the admin API under /_sandbox/ (see docs/SANDBOX.md).
    """
    try:
        config = config_from_options(values)
    except OptionError as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.flag) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _serve(config)


sandbox_command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter(
            option.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(option.default, help=option.help),
            annotation=option.kind,
        )
        for option in OPTIONS
    ],
    return_annotation=None,
)


def _serve(config: SandboxConfig) -> None:
    from worker.sandbox.server import SandboxServer

    stop = threading.Event()
    with SandboxServer(config).start() as server:
        for name, value in server.env().items():
            typer.echo(f"{name}={value}")
        typer.echo(f"# admin API: {server.admin_url}  (Ctrl-C to stop)", err=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            typer.echo("# sandbox stopped", err=True)


def register(app: typer.Typer) -> None:
    """Add `sandbox` to the `rei-sync` app."""
    app.command("sandbox")(sandbox_command)
