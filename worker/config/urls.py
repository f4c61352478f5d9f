"""The URLs configuration carries: an API or webhook URL (`validate_api_url`) and
`DATABASE_URL` (`normalise_database_url`), each checked once, here.

Every problem is a `ConfigError` naming the variable; no message repeats any part of the
value (a URL may carry a password or a token).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from worker.errors import ConfigError

DATABASE_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg")


def validate_api_url(variable: str, value: str, allow_insecure_http: bool) -> str:
    """An absolute http(s) URL; plain http only to loopback or when explicitly allowed."""
    try:
        url = urlsplit(value.strip())
        url.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(variable, "is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(
            variable, "must be an absolute http(s) URL, e.g. https://remax-cca.com/api/v1"
        )
    if url.username or url.password:
        raise ConfigError(variable, "must not carry credentials in the URL")
    if url.scheme == "http" and not (is_loopback(url.hostname) or allow_insecure_http):
        raise ConfigError(
            variable,
            "plain http:// to a non-loopback host would send keys in clear text; "
            "use https:// or set REI_ALLOW_INSECURE_HTTP=1",
        )
    return value.strip().rstrip("/")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_database_url(text: str) -> str:
    """`DATABASE_URL` as a well-formed psycopg URL, or `ConfigError` naming it.

    The password is everything between the first `:` after the user name and the
    *last* `@` before the host, so `p@ss#w0rd` works unencoded (and percent-encoded).
    No message ever repeats any part of the value.
    """
    variable = "DATABASE_URL"
    value = text.strip()
    scheme, sep, rest = value.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise ConfigError(
            variable, "is not a URL: expected postgresql://USER:PASSWORD@HOST:5432/DBNAME"
        )
    if scheme.lower() not in DATABASE_SCHEMES:
        raise ConfigError(variable, f"unsupported scheme {scheme}: use postgresql://")
    userinfo, at, location = rest.rpartition("@")
    try:
        parsed = make_url(f"postgresql://{location}")
        port = parsed.port
    except ValueError:
        raise ConfigError(variable, "has an invalid port: expected a number 1-65535") from None
    except ArgumentError:
        raise ConfigError(variable, "is not a valid URL") from None
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(variable, f"port {port} is out of range 1-65535")
    if not parsed.host and "host" not in parsed.query:
        raise ConfigError(
            variable, "has no host: expected postgresql://USER:PASSWORD@HOST:5432/DBNAME"
        )
    user, colon, password = userinfo.partition(":")
    url = URL.create(
        "postgresql+psycopg",
        username=unquote(user) if at and user else None,
        password=unquote(password) if at and colon else None,
        host=parsed.host,
        port=port,
        database=parsed.database,
        query=parsed.query,
    )
    return url.render_as_string(hide_password=False)
