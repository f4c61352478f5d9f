"""What a failed per-listing request is recorded as: endpoint, status and kind, never a body.

A listing whose images or delisting confirmation cannot be fetched is one listing's
problem, not the run's: the caller stores what it can, names the listing in
`sync_rejects` and goes on. The reason it records comes from here, built from the
error's fields only (a hostile server's body must never reach a reject or a log).
Failures of the brand itself (the token endpoint down, its keys refused) and a stop
request are not per-listing: `is_per_listing` says which errors the caller may absorb.
"""

from __future__ import annotations

from worker.errors import (
    ApiDecodeError,
    ApiError,
    ApiStatusError,
    ApiTransportError,
    AuthError,
    PermanentAuthError,
    ReiSyncError,
    TransientAuthError,
)


def is_per_listing(exc: ReiSyncError) -> bool:
    """An API error, or the API refusing this one request's token (after its re-auth)."""
    if isinstance(exc, ApiError):
        return True
    return isinstance(exc, AuthError) and not isinstance(
        exc, (PermanentAuthError, TransientAuthError)
    )


def failure_reason(path: str, exc: ReiSyncError) -> str:
    """`path` and what went wrong, in words that carry none of the answer's content."""
    if isinstance(exc, ApiStatusError):
        # A 404's body kind tells a bad parameter from a wrong path; for other statuses
        # the kind of an error body says nothing more.
        kind = f" ({exc.body_kind.replace('_', ' ')} body)" if exc.status == 404 else ""
        what = f"HTTP {exc.status}{kind}"
    elif isinstance(exc, ApiDecodeError):
        what = "HTTP 200 but not the JSON list the endpoint promises"
    elif isinstance(exc, ApiTransportError):
        what = "no answer (connection failed or timed out)"
    elif isinstance(exc, AuthError):
        what = "the API refused the request's token"
    else:
        what = type(exc).__name__
    return f"{path}: {what}, after retries"


def failure_status(exc: ReiSyncError) -> int | None:
    """The HTTP status of the final answer, when there was one."""
    if isinstance(exc, ApiStatusError):
        return exc.status
    return 200 if isinstance(exc, ApiDecodeError) else None
