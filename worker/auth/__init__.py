"""Per-brand bearer tokens: acquisition, caching, renewal before the buffer."""

from worker.auth.manager import TokenManager
from worker.auth.token import Token

__all__ = ["Token", "TokenManager"]
