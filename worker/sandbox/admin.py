"""The admin API under `/_sandbox/`: stats, clock, revocation, faults, epochs, truth.

JSON in, JSON out; loopback clients only; no bearer token. `truth` streams
NDJSON (one record per line) so a million listings never sit in one buffer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from worker.sandbox import responses as r
from worker.sandbox.catalogue import geo_truth, lookups_truth
from worker.sandbox.data import BrandData
from worker.sandbox.state import SandboxState

NDJSON_TYPE = "application/x-ndjson"
TRUTH_CHUNK = 1000
TRUTH_ENTITIES = ("properties", "associates", "images", "lookups", "geo")
DEFAULT_CHURN = {"changed": 0.02, "removed": 0.005, "added": 0.005}


@dataclass
class Stream:
    """A streamed answer (sent with chunked transfer encoding)."""

    content_type: str
    chunks: Iterator[bytes]


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def handle(
    state: SandboxState, method: str, path: str, query: dict[str, str], body: bytes
) -> r.Response | Stream:
    try:
        payload = _parse(body) if method == "POST" else {}
        return _dispatch(state, method, path.strip("/"), query, payload)
    except AdminError as exc:
        return r.json_response({"error": str(exc)}, exc.status)
    except (ValueError, TypeError) as exc:
        return r.json_response({"error": str(exc)}, 400)


def _parse(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise AdminError(400, "body must be JSON") from None
    if not isinstance(payload, dict):
        raise AdminError(400, "body must be a JSON object")
    return payload


def _dispatch(
    state: SandboxState, method: str, path: str, query: dict[str, str], body: dict[str, Any]
) -> r.Response | Stream:
    ok = r.json_response
    match method, path:
        case "GET", "stats":
            return ok(state.stats.snapshot())
        case "POST", "stats/reset":
            state.stats.reset()
            return ok(state.stats.snapshot())
        case "GET", "clock":
            return ok(state.clock.state())
        case "POST", "clock":
            _set_clock(state, body)
            return ok(state.clock.state())
        case "POST", "revoke":
            brand = None if body.get("brand") is None else _brand(state, body["brand"])
            return ok({"revoked": state.tokens.revoke_tokens(brand)})
        case "POST", "keys":
            brand = _brand(state, body.get("brand"))
            revoked = body.get("revoked", True)
            if not isinstance(revoked, bool):
                raise AdminError(400, "revoked must be true or false")
            state.tokens.set_keys_revoked(brand, revoked)
            return ok({"brand": brand, "revoked": revoked})
        case "GET", "faults":
            return ok(state.faults.settings.to_json())
        case "POST", "faults":
            return ok(state.faults.update(body).to_json())
        case "POST", "faults/reset":
            return ok(state.faults.reset().to_json())
        case "POST", "epoch":
            unknown = set(body) - set(DEFAULT_CHURN)
            if unknown:
                raise AdminError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
            rates = {k: float(body.get(k, v)) for k, v in DEFAULT_CHURN.items()}
            if any(not 0.0 <= v <= 1.0 for v in rates.values()):
                raise AdminError(400, "churn fractions must be between 0 and 1")
            return ok(state.advance_epoch(**rates))
        case "GET", "brands":
            return ok(
                {
                    k.brand: {
                        "api_key": k.api_key,
                        "secret_key": k.secret_key,
                        "integrator_id": k.integrator_id,
                        "listings": len(state.brands[k.brand].listings),
                        "associates": len(state.brands[k.brand].associates),
                    }
                    for k in state.keys
                }
                | {"epoch": state.epoch}
            )
        case "GET", "truth":
            return _truth(state, query)
    raise AdminError(404, f"no admin endpoint {method} /_sandbox/{path}")


def _set_clock(state: SandboxState, body: dict[str, Any]) -> None:
    unknown = set(body) - {"offset_seconds", "advance_seconds", "freeze_at"}
    if unknown:
        raise AdminError(400, f"unknown field(s): {', '.join(sorted(unknown))}")

    def number(name: str) -> float | None:
        value = body.get(name)
        return None if value is None else float(value)

    freeze = number("freeze_at")
    state.clock.set(
        offset_seconds=number("offset_seconds"),
        advance_seconds=number("advance_seconds"),
        freeze_at=freeze,
        unfreeze="freeze_at" in body and freeze is None,
    )


def _brand(state: SandboxState, value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in state.brands:
        raise AdminError(400, f"unknown brand {value!r}; known: {', '.join(state.brands)}")
    return value.upper()


def _truth(state: SandboxState, query: dict[str, str]) -> Stream:
    brand_key = _brand(state, query.get("brand"))
    entity = query.get("entity", "properties")
    if entity not in TRUTH_ENTITIES:
        raise AdminError(400, f"entity must be one of {', '.join(TRUTH_ENTITIES)}")
    brand = state.brands[brand_key]
    chunks: Iterator[bytes]
    if entity == "lookups":
        chunks = _lines(iter(lookups_truth()))
    elif entity == "geo":
        chunks = _lines(iter(geo_truth()))
    elif entity == "associates":
        chunks = _associates(brand)
    else:
        chunks = _listings(brand, images=entity == "images")
    return Stream(NDJSON_TYPE, chunks)


def _lines(items: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for item in items:
        yield orjson.dumps(item) + b"\n"


def _listings(brand: BrandData, *, images: bool) -> Iterator[bytes]:
    """Listings (or their images) in `GetProperties` order, a chunk per lock hold."""
    with brand.lock:
        slots = list(brand.iter_listing_slots())
    for start in range(0, len(slots), TRUTH_CHUNK):
        with brand.lock:
            live = [s for s in slots[start : start + TRUTH_CHUNK] if brand.listings.is_live(s)]
            if images:
                lines = [orjson.dumps(i) for s in live for i in brand.images(s)]
            else:
                lines = [brand.property_json(s) for s in live]
        if lines:
            yield b"\n".join(lines) + b"\n"


def _associates(brand: BrandData) -> Iterator[bytes]:
    with brand.lock:
        slots = list(brand.associates.order)
        lines = [orjson.dumps(brand.associate_record(s)) for s in slots]
    yield from (line + b"\n" for line in lines)
