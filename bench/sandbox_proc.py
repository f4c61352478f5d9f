"""The sandbox in a child process of its own, so the client under test never shares its GIL."""

from __future__ import annotations

import multiprocessing as mp
import queue
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from typing import Any

import requests

BRAND = "AZURA"
SEED = 11
ASSOCIATES = 200
IMAGES_PER_LISTING = 3


def _serve(
    listings: int, brands: tuple[str, ...], token_ttl: int | None, ready: Any, stop: EventType
) -> None:
    from worker.sandbox import SandboxConfig, SandboxServer

    config = SandboxConfig(
        seed=SEED,
        listings=listings,
        associates=ASSOCIATES,
        images_per_listing=IMAGES_PER_LISTING,
        brands=brands,
        **({} if token_ttl is None else {"token_ttl": token_ttl}),
    )
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        ready.put({"env": server.env(), "admin": server.admin_url})
        stop.wait()


@dataclass
class Sandbox:
    """`with Sandbox(n) as sb:` — `sb.env` (REMAX_<BRAND>_*), `sb.admin_url`, `sb.epoch(...)`.

    `brands` and `token_ttl` (seconds) shape the soak and the many-brands bench.
    """

    listings: int
    brands: tuple[str, ...] = (BRAND,)
    token_ttl: int | None = None
    env: dict[str, str] | None = None
    admin_url: str = ""
    _process: BaseProcess | None = None
    _stop: EventType | None = None

    def __enter__(self) -> Sandbox:
        ctx = mp.get_context("spawn")
        ready: Any = ctx.Queue()
        self._stop = ctx.Event()
        self._process = ctx.Process(
            target=_serve,
            args=(self.listings, self.brands, self.token_ttl, ready, self._stop),
            daemon=True,
        )
        self._process.start()
        info = None
        for _ in range(240):
            try:
                info = ready.get(timeout=0.5)
                break
            except queue.Empty:
                if not self._process.is_alive():
                    break
        if info is None:
            self.__exit__(None, None, None)
            raise RuntimeError("sandbox did not start")
        self.env, self.admin_url = info["env"], info["admin"]
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._process is not None:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def api_url(self) -> str:
        assert self.env is not None
        return self.env[f"REMAX_{BRAND}_API_URL"]

    def epoch(self, changed: float, removed: float = 0.0, added: float = 0.0) -> dict[str, Any]:
        response = requests.post(
            f"{self.admin_url}/epoch",
            json={"changed": changed, "removed": removed, "added": added},
            timeout=120,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def token(self) -> str:
        assert self.env is not None
        response = requests.post(
            f"{self.api_url}/oauth/token",
            data={
                "grant_type": "password",
                "apikey": self.env[f"REMAX_{BRAND}_API_KEY"],
                "secretkey": self.env[f"REMAX_{BRAND}_SECRET_KEY"],
                "integratorID": self.env[f"REMAX_{BRAND}_INTEGRATOR_ID"],
            },
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])
