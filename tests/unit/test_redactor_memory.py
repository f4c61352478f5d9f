"""Token renewals do not pile up compiled regexes: the soak's steady heap growth (issue 16)."""

from __future__ import annotations

import secrets
import tracemalloc

from worker.log import SecretRedactor

RENEWALS = 300


def test_renewing_tokens_keeps_no_memory_per_renewal() -> None:
    redactor = SecretRedactor()
    redactor.register(["configured-api-key-value"])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(RENEWALS):
            for brand in ("AZURA", "BLUE_OCEAN"):
                redactor.register([secrets.token_urlsafe(225)], group=f"token:{brand}")
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Compiling an alternation per renewal kept ~20 kB each in `re`'s cache: ~12 MB here.
    assert grown < 256 * 1024, f"{grown / 1024:.0f} kB kept for {2 * RENEWALS} renewals"


def test_the_latest_tokens_and_the_configured_keys_are_still_scrubbed() -> None:
    redactor = SecretRedactor()
    redactor.register(["configured-api-key-value"])
    tokens = [secrets.token_urlsafe(225) for _ in range(5)]
    for token in tokens:
        redactor.register([token], group="token:AZURA")
    text = redactor.scrub(f"a {tokens[-1]} b configured-api-key-value c {tokens[-3]}")
    assert tokens[-1] not in text
    assert tokens[-3] not in text
    assert "configured-api-key-value" not in text
    assert text.count("[REDACTED]") == 3
