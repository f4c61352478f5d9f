"""`/status.json`: the same view as the page, as JSON (epoch seconds plus display text)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from worker.status import format as fmt
from worker.status.view import StatusView

SCHEMA_VERSION = 1


def as_dict(view: StatusView) -> dict[str, Any]:
    body = dataclasses.asdict(view)
    return {"version": SCHEMA_VERSION, "generated_iso": fmt.iso(view.generated_at), **body}


def render_json(view: StatusView) -> str:
    return json.dumps(as_dict(view), ensure_ascii=False, separators=(",", ":"))
