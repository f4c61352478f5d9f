"""One worker replica for the cross-process test: a separate OS process sharing Postgres."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from worker.auth.crypto import TokenCipher
from worker.auth.manager import TokenManager
from worker.auth.postgres import PostgresTokenStore
from worker.auth.token import fingerprint
from worker.config import load_settings
from worker.db.engine import create_db_engine


def run_replica(
    env: dict[str, str], db_url: str, key: str, start: Barrier, results: Queue[str]
) -> None:
    """Wait for every replica, ask for AZURA's token once, report its fingerprint."""
    settings = load_settings(environ=env, env_file=None)
    engine = create_db_engine(db_url, pooler=settings.database_pooler)
    manager = TokenManager(settings.brands, store=PostgresTokenStore(engine, TokenCipher([key])))
    try:
        start.wait(30)
        results.put(fingerprint(manager.get_valid_token("AZURA")))
    finally:
        manager.close()
        engine.dispose()
