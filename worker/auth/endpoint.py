"""The vendor's password-style grant: POST form-encoded keys to `{base}/oauth/token`."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from worker.config import Brand
from worker.errors import PermanentAuthError, TransientAuthError

PERMANENT_GRANT_ERRORS = frozenset({"invalid_grant", "unauthorized_client", "unsupported_grant_type"})


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    expires_in: float
    server_date: str | None


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
        )
    except requests.RequestException as exc:
        raise TransientAuthError(brand.key, f"token request failed: {type(exc).__name__}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientAuthError(brand.key, f"token endpoint answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        code = body.get("error", "") if isinstance(body, dict) else ""
        if response.status_code in (400, 401, 403) or code in PERMANENT_GRANT_ERRORS:
            raise PermanentAuthError(
                brand.key, f"token request refused: HTTP {response.status_code} {code}".rstrip()
            )
        raise TransientAuthError(brand.key, f"token endpoint answered HTTP {response.status_code}")
    access_token = body.get("access_token")
    expires_in = body.get("expires_in")
    if not isinstance(access_token, str) or not access_token or not isinstance(expires_in, int | float):
        raise TransientAuthError(brand.key, "token response lacks access_token/expires_in")
    return TokenResponse(access_token, float(expires_in), response.headers.get("Date"))
