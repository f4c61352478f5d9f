"""Turn the API's error bodies (JSON, XML or HTML, as ASP.NET serves them) into one message."""

from __future__ import annotations

import re
from typing import Any

import orjson

MAX_MESSAGE_CHARS = 300
XML_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.DOTALL | re.IGNORECASE)
HTML_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL | re.IGNORECASE)
XML_MODEL_STATE = re.compile(r"<ModelState>", re.IGNORECASE)
NO_ROUTE_PREFIX = "No HTTP resource was found"

NOT_FOUND = "not_found"
"""`{"Message": "... was not found."}`: the API's own "no such id" answer (JSON or XML)."""
BAD_REQUEST = "bad_request"
"""An error body with `ModelState` or `MessageDetail`: a wrong parameter value, not a missing id."""
NO_ROUTE = "no_route"
"""ASP.NET's "No HTTP resource was found that matches the request URI": a wrong path."""
HTML = "html"
"""An HTML page (a proxy, IIS, a maintenance page): not the API's answer at all."""
OTHER = "other"
"""Anything else: empty, `{}`, a JSON body of another shape, plain text."""


def error_message(body: bytes, content_type: str = "") -> str:
    """Best human message from an error body: `Message`/`error_description`/`error`, XML or HTML."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return "(empty body)"
    if text[:1] in "{[":
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            parts = [
                str(parsed[k])
                for k in ("Message", "message", "error", "error_description", "MessageDetail")
                if parsed.get(k)
            ]
            if parts:
                return _clip(": ".join(parts))
    match = XML_MESSAGE.search(text)
    if match:
        return _clip(match.group(1).strip())
    match = HTML_TITLE.search(text)
    if match:
        return _clip("HTML page: " + match.group(1).strip())
    kind = "HTML page" if "html" in content_type.lower() or text.startswith("<") else "body"
    return _clip(f"{kind}: {text}")


def body_kind(body: bytes, content_type: str = "") -> tuple[str, dict[str, Any] | None]:
    """What kind of error body this is, and its `ModelState` when it has one (JSON only).

    Only `NOT_FOUND` says the API itself looked the id up and found nothing: it is the
    ASP.NET error object with a `Message` and neither `ModelState` nor `MessageDetail`,
    whose message is not the routing failure's.
    """
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return OTHER, None
    if text[:1] == "{":
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return OTHER, None
        if not isinstance(parsed, dict):
            return OTHER, None
        model_state = parsed.get("ModelState")
        if model_state is not None or parsed.get("MessageDetail") is not None:
            return BAD_REQUEST, model_state if isinstance(model_state, dict) else None
        message = parsed.get("Message")
        if not isinstance(message, str) or not message.strip():
            return OTHER, None
        return (NO_ROUTE if message.startswith(NO_ROUTE_PREFIX) else NOT_FOUND), None
    if "html" in content_type.lower() or (text[:1] == "<" and "<html" in text[:300].lower()):
        return HTML, None
    if text.startswith("<Error>"):
        if XML_MODEL_STATE.search(text) or "<MessageDetail>" in text:
            return BAD_REQUEST, None
        match = XML_MESSAGE.search(text)
        if match is None or not match.group(1).strip():
            return OTHER, None
        return (NO_ROUTE if match.group(1).strip().startswith(NO_ROUTE_PREFIX) else NOT_FOUND), None
    return OTHER, None


def _clip(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"
