"""The vendor's password-style grant: POST form-encoded keys to `{base}/oauth/token`.

This is the only module that talks HTTP for tokens; it follows no redirect (the form
holds the keys: a 3xx is a permanent error, nothing is re-posted anywhere); it translates every
`requests` failure into `PermanentAuthError` / `TransientAuthError` and never
puts a key, a token or a response body into a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import requests

from worker.api.errors import KNOWN_OAUTH_CODES
from worker.config import Brand
from worker.errors import PermanentAuthError, TransientAuthError

PERMANENT_GRANT_ERRORS = frozenset(
    {"invalid_grant", "unauthorized_client", "unsupported_grant_type"}
)
PERMANENT_STATUSES = frozenset({400, 401, 403, 404})
"""404: the token URL is wrong (e.g. the vendor doc's `/reiapi/` path); retrying will not fix it."""
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class TokenResponse:
    """What the server granted; `server_date` is its `Date` header as epoch seconds, if any."""

    access_token: str = field(repr=False)
    expires_in: float
    server_date: float | None = None


TokenRequester = Callable[[Brand], TokenResponse]
"""Asks the API for a new token for one brand. Injected so tests can count and fake calls."""


class HttpTokenRequester:
    """The real requester: one `requests.Session`, bounded timeouts."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        connect_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self._session = session or requests.Session()
        self._timeout = (connect_timeout_seconds, read_timeout_seconds)

    def __call__(self, brand: Brand) -> TokenResponse:
        return request_token(brand, self._session, self._timeout)

    def close(self) -> None:
        self._session.close()


def request_token(
    brand: Brand, session: requests.Session, timeout: tuple[float, float]
) -> TokenResponse:
    """One token request. Raises Permanent/TransientAuthError; never echoes a key."""
    form = {
        "grant_type": "password",
        "apikey": brand.api_key.get_secret_value(),
        "secretkey": brand.secret_key.get_secret_value(),
        "integratorID": brand.integrator_id.get_secret_value(),
    }
    try:
        response = session.post(
            f"{brand.api_url}/oauth/token",
            data=form,
            headers={"Accept": "application/json"},
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise TransientAuthError(brand.key, f"token request failed: {type(exc).__name__}") from None
    status = response.status_code
    if 300 <= status < 400:
        raise PermanentAuthError(
            brand.key,
            f"token endpoint answered HTTP {status} (a redirect): refused, "
            "the keys are never sent anywhere but the configured API URL",
        )
    if status >= 500 or status == 429:
        raise TransientAuthError(brand.key, f"token endpoint answered HTTP {status}")
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    code = code if isinstance(code, str) and code in KNOWN_OAUTH_CODES else ""
    if status != 200 or code:
        if status in PERMANENT_STATUSES or code in PERMANENT_GRANT_ERRORS:
            raise PermanentAuthError(
                brand.key, f"token request refused: HTTP {status} {code}".rstrip()
            )
        raise TransientAuthError(brand.key, f"token endpoint answered HTTP {status}")
    if not isinstance(body, dict):
        raise TransientAuthError(brand.key, "token response is not a JSON object")
    access_token = body.get("access_token")
    expires_in = body.get("expires_in")
    if (
        not isinstance(access_token, str)
        or not access_token
        or isinstance(expires_in, bool)
        or not isinstance(expires_in, int | float)
        or expires_in <= 0
    ):
        raise TransientAuthError(brand.key, "token response lacks access_token/expires_in")
    return TokenResponse(
        access_token, float(expires_in), parse_http_date(response.headers.get("Date"))
    )


def parse_http_date(value: str | None) -> float | None:
    """An RFC 7231 `Date` header as epoch seconds; None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()
