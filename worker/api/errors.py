"""Classify the API's error bodies (JSON, XML or HTML, as ASP.NET serves them) and describe
them in messages without quoting them."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]{0,40}/[a-z0-9][a-z0-9.+-]{0,60}")
XML_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.DOTALL | re.IGNORECASE)
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


KNOWN_MESSAGES = frozenset(
    {
        "Authorization has been denied for this request.",
        "The request is invalid.",
        "An error has occurred.",
        "Too many requests. Please retry later.",
    }
)
"""The vendor's fixed error phrases: the only body text an error message may quote."""
KNOWN_OAUTH_CODES = frozenset(
    {
        "invalid_grant",
        "invalid_client",
        "invalid_request",
        "invalid_scope",
        "unauthorized_client",
        "unsupported_grant_type",
    }
)
"""RFC 6749's error codes: quoted as they are; any other `error` value is not."""
KIND_LABELS = {
    NOT_FOUND: "the API's not-found answer",
    BAD_REQUEST: "the API's invalid-request answer",
    NO_ROUTE: "no HTTP resource matches the request URI",
    HTML: "an HTML page",
}


def error_message(body: bytes, content_type: str = "") -> str:
    """What an error body was, never what it said: a known vendor phrase or the kind of
    answer, then its content type, length and a short hash (`describe_body`).

    Bodies are attacker-controlled and may hold record content (a truncated page): they
    reach `sync_runs.error`, logs, alerts and the status page only as this description.
    """
    label = _known_phrase(body) or KIND_LABELS.get(body_kind(body, content_type)[0], "")
    shape = describe_body(body, content_type)
    return f"{label} ({shape})" if label else shape


def describe_body(body: bytes, content_type: str = "") -> str:
    """`application/json, 1234 bytes, sha256 0123456789ab`: enough to match two answers
    (or a capture) without copying one byte of the body."""
    kind = _plain_content_type(content_type)
    if not body:
        return f"{kind}, empty body"
    digest = hashlib.sha256(body).hexdigest()[:12]
    return f"{kind}, {len(body)} bytes, sha256 {digest}"


def named_ids(body: bytes) -> frozenset[str]:
    """The ids (digit runs) a not-found message names, for `ApiStatusError.is_not_found`."""
    message = _vendor_message(body)
    return frozenset(re.findall(r"\d+", message)) if message else frozenset()


def _plain_content_type(content_type: str) -> str:
    """The media type alone (no parameters), and only when it is a plain token pair."""
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        media
        if MEDIA_TYPE.fullmatch(media)
        else "no content type"
        if not media
        else "odd content type"
    )


def _vendor_message(body: bytes) -> str | None:
    text = body.decode("utf-8", errors="replace").strip()
    if text[:1] == "{":
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        message = parsed.get("Message") if isinstance(parsed, dict) else None
        return message if isinstance(message, str) else None
    match = XML_MESSAGE.search(text[:4096])
    return match.group(1) if match else None


def _known_phrase(body: bytes) -> str | None:
    """A known vendor phrase (or OAuth code) the body carries, quoted from our own list."""
    message = _vendor_message(body)
    if message is not None:
        phrase = " ".join(message.split())
        return phrase if phrase in KNOWN_MESSAGES else None
    if body[:1] == b"{":
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        code = parsed.get("error") if isinstance(parsed, dict) else None
        return code if isinstance(code, str) and code in KNOWN_OAUTH_CODES else None
    return None


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
