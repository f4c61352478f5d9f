"""One error root with families; each error says whether retrying can help.

Library exceptions (requests, psycopg) are translated once, at the boundary
that calls the library, into one of these.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


class ReiSyncError(Exception):
    """Root of every error rei-sync raises on purpose."""

    retryable: bool = False
    retry_after: float | None = None
    """Seconds the other side asked us to wait before trying again (`Retry-After`)."""


class ConfigError(ReiSyncError):
    """Bad or missing configuration. `variable` names the setting at fault."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem

    @property
    def problems(self) -> tuple[ConfigError, ...]:
        """Each problem on its own (one line each when printed)."""
        return (self,)


class ConfigErrors(ConfigError):
    """Several configuration problems found in one pass, reported together."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        flat = [problem for error in errors for problem in error.problems]
        super().__init__(flat[0].variable, flat[0].problem)
        self.args = ("; ".join(str(e) for e in flat),)
        self.errors = tuple(flat)

    @property
    def problems(self) -> tuple[ConfigError, ...]:
        return self.errors

    @staticmethod
    def raise_if_any(errors: Sequence[ConfigError]) -> None:
        """One error as itself, several as one `ConfigErrors`, none: nothing."""
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise ConfigErrors(errors)


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


class TokenStoreError(TransientAuthError):
    """The store could not be read or written (database down, lock timeout)."""


class TokenRefusedError(AuthError):
    """The API answered 401 to every token one request could get within its bound.

    Raised by `ReiClient` for that one request only, after it sent its first token and
    then up to `MAX_TOKEN_REFRESHES_PER_REQUEST` newer ones (each refused token is
    marked so no caller is handed it again). Tokens are being revoked faster than one
    request can use them, or the API refuses this brand's tokens. Retryable: a later
    request gets a new token; the sync counts it as a failure of that request (one
    listing's images, one page), not of the brand's keys.
    """

    retryable = True


class ApiError(ReiSyncError):
    """A call to the REI API failed."""


class ApiTransportError(ApiError):
    """No HTTP answer: connection refused or reset, timeout."""

    retryable = True


class ApiStatusError(ApiError):
    """The API answered with an error status; `message` describes its body, never quotes it.

    `body_kind` says what the body was (`worker.api.errors.body_kind`: "not_found",
    "bad_request", "no_route", "html" or "other"); `model_state` is a bad request's
    per-parameter complaints when the body carried them.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        path: str = "",
        retry_after: float | None = None,
        body_kind: str = "other",
        model_state: dict[str, Any] | None = None,
        named_ids: frozenset[str] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status} on {path or '?'}: {message}")
        self.status = status
        self.message = message
        self.path = path
        self.retry_after = retry_after
        self.body_kind = body_kind
        self.model_state = model_state
        self.named_ids = frozenset(re.findall(r"\d+", message)) if named_ids is None else named_ids
        """Ids the body's not-found message named (the message itself is never kept)."""
        self.retryable = status in (429, 500, 502, 503, 504)

    @property
    def is_not_found(self) -> bool:
        """A 404 the API itself gave for an id it does not know: the only proof of "gone".

        A 404 with `ModelState` (a bad parameter), ASP.NET's "No HTTP resource was
        found" (a bad path), a proxy's HTML page or an unrecognised body proves nothing.
        A not-found message naming ids must name the one asked for (the path's last id).
        """
        if self.status != 404 or self.body_kind != "not_found":
            return False
        named = self.named_ids
        asked = re.findall(r"\d+", self.path.rsplit("/", 1)[-1])
        return not named or not asked or asked[-1] in named


class ApiRedirectError(ApiError):
    """A read was redirected off the brand's origin, or too often: nothing was sent there."""


class ApiDecodeError(ApiError):
    """A 200 answer whose body is not the JSON the endpoint promises."""

    retryable = True


class EmptyCatalogueError(ApiError):
    """The API answered an empty catalogue: not trusted, the run fails without delisting."""


class IncompleteScanError(ReiSyncError):
    """A list scan that stored every record it could, but not every offset answered.

    The run ends `failed` (never "complete": no delisting); the offsets are in
    `sync_rejects` and the next run isolates them again.
    """


class StopRequested(ReiSyncError):
    """The run's stop event was set while it waited (a retry backoff) or between calls.

    Not a failure: the run ends `aborted` with its checkpoint.
    """


class LeaseBusyError(ReiSyncError):
    """Another process holds the job's lease; `holder` says which."""

    retryable = True

    def __init__(self, job_key: str, holder: str | None) -> None:
        super().__init__(
            f"job {job_key} is running elsewhere (lease held by {holder or 'another process'}); "
            "try again later or pass --wait"
        )
        self.job_key = job_key
        self.holder = holder


class SinkError(ReiSyncError):
    """Writing to the database failed."""


class DatabaseUnavailableError(SinkError):
    """The database could not be reached or dropped the connection; a later run can succeed."""

    retryable = True


class SchemaError(ReiSyncError):
    """The database's schema does not match this code: behind (run `rei-sync migrate`)
    or newer than the code (never touched)."""
