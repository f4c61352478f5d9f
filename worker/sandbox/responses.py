"""Response bodies the way the vendor's ASP.NET Web API writes them: JSON, XML errors, HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import orjson

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

DENIED = "Authorization has been denied for this request."
INVALID = "The request is invalid."


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(payload))


def wants_json(accept: str | None) -> bool:
    """ASP.NET content negotiation for errors: JSON only if the client asks for it.

    `application/json`, `text/json`, `*/*` and `application/*` count; an Accept
    header naming none of them (or no Accept header at all) gets XML. The vendor
    doc tells integrators to send `Accept: application/json`; the sandbox makes
    forgetting it visible.
    """
    if not accept:
        return False
    lowered = accept.lower()
    return "json" in lowered or "*/*" in lowered or "application/*" in lowered


def error(
    status: int,
    message: str,
    accept: str | None,
    *,
    model_state: dict[str, list[str]] | None = None,
    detail: str | None = None,
) -> Response:
    """`{"Message": …, "ModelState"|"MessageDetail": …}` or `<Error>…</Error>` per Accept."""
    if wants_json(accept):
        payload: dict[str, Any] = {"Message": message}
        if detail is not None:
            payload["MessageDetail"] = detail
        if model_state is not None:
            payload["ModelState"] = model_state
        return Response(status, orjson.dumps(payload))
    parts = [f"<Message>{escape(message)}</Message>"]
    if detail is not None:
        parts.append(f"<MessageDetail>{escape(detail)}</MessageDetail>")
    if model_state is not None:
        states = "".join(
            f"<{_xml_name(key)}>{escape(' '.join(values))}</{_xml_name(key)}>"
            for key, values in model_state.items()
        )
        parts.append(f"<ModelState>{states}</ModelState>")
    body = "<Error>" + "".join(parts) + "</Error>"
    return Response(status, body.encode(), XML_TYPE)


def _xml_name(key: str) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in key) or "_"


def invalid_parameter(name: str, value: str, problem: str, accept: str | None) -> Response:
    """Bad `take`/`skip`/id: the vendor answers 404 (its doc calls it "Bad request")."""
    return error(
        404, INVALID, accept, model_state={name: [f"The value '{value}' is not valid. {problem}"]}
    )


def not_found(message: str, accept: str | None) -> Response:
    return error(404, message, accept)


def no_route(url: str, accept: str | None) -> Response:
    return error(404, f"No HTTP resource was found that matches the request URI '{url}'.", accept)


def method_not_allowed(method: str, accept: str | None) -> Response:
    return error(405, f"The requested resource does not support http method '{method}'.", accept)


def denied(accept: str | None) -> Response:
    response = error(401, DENIED, accept)
    response.headers.append(("WWW-Authenticate", "Bearer"))
    return response


def oauth_error(code: str, description: str | None = None) -> Response:
    """OWIN's token endpoint always answers JSON, whatever the Accept header says."""
    payload = {"error": code}
    if description is not None:
        payload["error_description"] = description
    return Response(400, orjson.dumps(payload), "application/json;charset=UTF-8", _NO_CACHE())


def _NO_CACHE() -> list[tuple[str, str]]:
    return [("Cache-Control", "no-cache"), ("Pragma", "no-cache"), ("Expires", "-1")]


def token_response(token: str, ttl: int) -> Response:
    payload = {"access_token": token, "token_type": "bearer", "expires_in": ttl}
    return Response(200, orjson.dumps(payload), "application/json;charset=UTF-8", _NO_CACHE())


_IIS_503 = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
    "<HTML><HEAD><TITLE>Service Unavailable</TITLE>\r\n"
    '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
    "<BODY><h2>Service Unavailable</h2>\r\n<hr><p>HTTP Error 503. The service is unavailable.</p>"
    "\r\n</BODY></HTML>\r\n"
)
_PROXY_502 = (
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>\n"
)


def server_error(status: int, accept: str | None) -> Response:
    """What each 5xx looks like live: the app's JSON 500, a proxy's or IIS's HTML otherwise."""
    if status == 502:
        return Response(502, _PROXY_502.encode(), HTML_TYPE)
    if status == 503:
        return Response(503, _IIS_503.encode(), "text/html; charset=us-ascii")
    return error(status, "An error has occurred.", accept)


def rate_limited(retry_after: str, accept: str | None) -> Response:
    """429 with `Retry-After` (delay-seconds or an HTTP-date, as the server prefers)."""
    response = error(429, "Too many requests. Please retry later.", accept)
    response.headers.append(("Retry-After", retry_after))
    return response


def html_page() -> Response:
    """A 200 that is not JSON: a maintenance page served by something in front of the API."""
    body = (
        '<!DOCTYPE html>\n<html lang="es"><head><meta charset="utf-8">'
        "<title>RE/MAX CCA - Mantenimiento</title></head>\n<body><h1>Estamos en mantenimiento"
        "</h1>\n<p>Volveremos pronto. We'll be back soon.</p></body></html>\n"
    )
    return Response(200, body.encode(), HTML_TYPE)
