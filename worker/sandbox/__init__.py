"""REI API CCA emulator: seeded per-brand data, the vendor's quirks, fault and churn knobs."""

from worker.sandbox.config import FaultSettings, SandboxConfig, TokenOutage
from worker.sandbox.server import SandboxServer

__all__ = ["FaultSettings", "SandboxConfig", "SandboxServer", "TokenOutage"]
