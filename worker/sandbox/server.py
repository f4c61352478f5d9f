"""Placeholder: the HTTP server lands in the next commit."""

from __future__ import annotations

from types import TracebackType

from worker.sandbox.config import SandboxConfig


class SandboxServer:
    def __init__(self, config: SandboxConfig, host: str | None = None, port: int | None = None):
        self.config = config

    def start(self) -> SandboxServer:
        raise NotImplementedError("sandbox server not implemented yet")

    def env(self) -> dict[str, str]:
        return {}

    @property
    def admin_url(self) -> str:
        return ""

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None
