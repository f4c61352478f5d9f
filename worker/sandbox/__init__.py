"""REI API CCA emulator: seeded per-brand data, the vendor's quirks, fault and churn knobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.sandbox.config import FaultSettings, SandboxConfig, TokenOutage

if TYPE_CHECKING:
    from worker.sandbox.server import SandboxServer


def __getattr__(name: str) -> Any:
    """`SandboxServer` on first use: `rei-sync sync` imports the sandbox's CLI, not its server."""
    if name == "SandboxServer":
        from worker.sandbox.server import SandboxServer

        return SandboxServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FaultSettings", "SandboxConfig", "SandboxServer", "TokenOutage"]
