"""Turn the API's error bodies (JSON, XML or HTML, as ASP.NET serves them) into one message."""

from __future__ import annotations

import re
from typing import Any

import orjson

MAX_MESSAGE_CHARS = 300
XML_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.DOTALL | re.IGNORECASE)
HTML_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL | re.IGNORECASE)


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


def _clip(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"
