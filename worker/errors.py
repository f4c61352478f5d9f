"""One error root with families; each error says whether retrying can help.

Library exceptions (requests, psycopg) are translated once, at the boundary
that calls the library, into one of these.
"""

from __future__ import annotations


class ReiSyncError(Exception):
    """Root of every error rei-sync raises on purpose."""

    retryable: bool = False


class ConfigError(ReiSyncError):
    """Bad or missing configuration. `variable` names the setting at fault."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class AuthError(ReiSyncError):
    """The API refused, or could not give, a token for a brand."""

    def __init__(self, brand: str, message: str) -> None:
        super().__init__(f"{brand}: {message}")
        self.brand = brand


class PermanentAuthError(AuthError):
    """The keys or the grant request are wrong: retrying will not help."""

    retryable = False


class TransientAuthError(AuthError):
    """Network error, timeout or server error at the token endpoint."""

    retryable = True


class ApiError(ReiSyncError):
    """A call to the REI API failed."""


class ApiTransportError(ApiError):
    """No HTTP answer: connection refused or reset, timeout."""

    retryable = True


class ApiStatusError(ApiError):
    """The API answered with an error status; `message` comes from its body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"HTTP {status} on {path or '?'}: {message}")
        self.status = status
        self.message = message
        self.path = path
        self.retry_after = retry_after
        self.retryable = status in (429, 500, 502, 503, 504)


class ApiDecodeError(ApiError):
    """A 200 answer whose body is not the JSON the endpoint promises."""

    retryable = True


class SinkError(ReiSyncError):
    """Writing to the database failed."""
