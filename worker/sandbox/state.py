"""Everything a running sandbox holds: brands' data, clock, tokens, faults, counters."""

from __future__ import annotations

import threading
from typing import Any

from worker.sandbox.auth import BrandKeys, TokenIssuer
from worker.sandbox.clock import SandboxClock
from worker.sandbox.config import SandboxConfig
from worker.sandbox.data import BrandData
from worker.sandbox.faults import FaultInjector
from worker.sandbox.stats import Stats


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = SandboxClock()
        self.keys = [BrandKeys.derive(config.seed, brand) for brand in config.brands]
        self.tokens = TokenIssuer(self.keys, config.token_ttl, self.clock)
        self.faults = FaultInjector(config.faults, self.clock)
        self.stats = Stats(config.brands)
        self.stopping = threading.Event()
        """Set on shutdown so stalls and latency waits end at once."""
        per_brand_cache = config.record_cache // len(config.brands)
        self.brands = {
            key: BrandData(
                key,
                number,
                len(config.brands),
                seed=config.seed,
                listings=config.listings,
                associates=config.associates,
                images_per_listing=config.images_per_listing,
                cache_records=per_brand_cache,
                status_ids=config.status_ids,
            )
            for number, key in enumerate(config.brands)
        }
        self._epoch_lock = threading.Lock()
        self.epoch = 0

    def advance_epoch(self, changed: float, removed: float, added: float) -> dict[str, Any]:
        with self._epoch_lock:
            self.epoch += 1
            report: dict[str, Any] = {}
            for key, brand in self.brands.items():
                with brand.lock:
                    report[key] = brand.advance(self.epoch, changed, removed, added)
            return {"epoch": self.epoch, "brands": report}
