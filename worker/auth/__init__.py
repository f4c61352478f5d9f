"""Per-brand bearer tokens: acquisition, caching, renewal before the buffer, shared across replicas.

Public names are re-exported here; the modules behind them each hold one idea
(token arithmetic, endpoint, stores, crypto, single-flight, background worker,
failure gate, schedule, metrics, CLI).
"""

from worker.auth.crypto import TokenCipher, generate_key
from worker.auth.endpoint import HttpTokenRequester, TokenRequester, TokenResponse
from worker.auth.failures import BackoffPolicy
from worker.auth.manager import TokenManager, TokenStatus
from worker.auth.postgres import PostgresTokenStore
from worker.auth.store import MemoryTokenStore, TokenStore
from worker.auth.token import Token, TokenState
from worker.errors import TokenStoreError

__all__ = [
    "BackoffPolicy",
    "HttpTokenRequester",
    "MemoryTokenStore",
    "PostgresTokenStore",
    "Token",
    "TokenCipher",
    "TokenManager",
    "TokenRequester",
    "TokenResponse",
    "TokenState",
    "TokenStatus",
    "TokenStore",
    "TokenStoreError",
    "generate_key",
]
