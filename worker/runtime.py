"""Turns Settings into the running parts, built once: the database engine, the store, the
token manager, the leases and the API clients. One run of a job is `Runtime.run_job`,
for the CLI's `sync`/`backfill` (`worker.jobs`) and the daemon's scheduled runs alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import requests
import sqlalchemy as sa

from worker.api.client import ReiClient
from worker.auth import TokenManager
from worker.auth.build import StoreChoice, build_token_manager, build_token_store
from worker.config import Brand, Settings, database_errors
from worker.db.embedded import start_embedded_postgres
from worker.db.engine import create_db_engine
from worker.db.revision import at_head
from worker.db.schema import RunRecord
from worker.errors import ConfigErrors
from worker.leases import Lease, LeaseStore
from worker.log import get_logger
from worker.sinks.base import Store
from worker.sinks.choose import build_store
from worker.sync.engine import Progress, RunResult, SyncOptions, sync_entity

log = get_logger(__name__)


def database_url(settings: Settings) -> str:
    """`DATABASE_URL`, or the embedded server in `REI_SYNC_HOME` when that was asked for."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    ConfigErrors.raise_if_any(database_errors(settings))
    url = start_embedded_postgres(settings.rei_sync_home)
    log.info("db.embedded", data_folder=str(settings.rei_sync_home.resolve() / "pgdata"))
    return url


@contextmanager
def open_engine(
    settings: Settings, *, migrate: bool = False, check_schema: bool = True
) -> Iterator[sa.Engine]:
    """A connected engine whose schema is this code's: upgraded first with `migrate`,
    otherwise checked (`SchemaError` naming `rei-sync migrate`). `check_schema=False` for
    callers that report the schema themselves (`doctor`) or migrate it (`migrate`)."""
    engine = create_db_engine(database_url(settings), pooler=settings.database_pooler)
    try:
        # Connect now: an unreachable database is one clear error at the start (the
        # commands' `domain_errors` turn it into one line), not a warning per brand later.
        with engine.connect() as connection:
            settled = not (migrate or check_schema) or at_head(connection)
        if not settled:
            ensure_schema(engine, migrate=migrate)
        yield engine
    finally:
        engine.dispose()


def ensure_schema(engine: sa.Engine, *, migrate: bool) -> None:
    """Upgrade (`migrate`) or check a schema that is not at head: through Alembic, imported
    only then (a schema at head is told by `worker.db.revision`, without it)."""
    from worker.db.migrate import require_current_schema, upgrade_head

    if migrate:
        upgrade_head(engine)
    else:
        require_current_schema(engine)


def build_client(
    settings: Settings, brand: Brand, tokens: TokenManager, session: requests.Session
) -> ReiClient:
    return ReiClient(
        brand,
        tokens,
        session=session,
        connect_timeout=settings.rei_connect_timeout_seconds,
        read_timeout=settings.rei_read_timeout_seconds,
        pool_connections=settings.rei_sync_parallelism + settings.rei_image_concurrency_max,
    )


class Runtime:
    """The parts one or many sync runs share, built once from settings and an engine.

    With a `session` (the CLI: runs one after another) each brand's API client is built
    once on it and kept. Without one (the daemon: runs in parallel on the slots) every
    run gets a session of its own, so one run's connections never wait for another's.
    """

    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        tokens: TokenManager,
        leases: LeaseStore,
        *,
        store: Store | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.tokens = tokens
        self.leases = leases
        self.store = store or build_store(settings, engine)
        self._session = session
        self._clients: dict[str, ReiClient] = {}

    def options(self, *, parallelism: int | None = None, full: bool = False) -> SyncOptions:
        """The run options from settings; `parallelism` unset: `REI_SYNC_PARALLELISM`."""
        return SyncOptions(
            take=self.settings.rei_page_size,
            parallelism=parallelism or self.settings.rei_sync_parallelism,
            full_images=full,
            image_concurrency_max=self.settings.rei_image_concurrency_max,
            window_bytes=self.settings.rei_sync_window_mb * 2**20,
        )

    @contextmanager
    def client(self, brand: str) -> Iterator[ReiClient]:
        """`brand`'s API client: the kept one on the shared session, or one on a session
        of its own for this run (see the class)."""
        if self._session is None:
            with requests.Session() as session:
                yield build_client(self.settings, self.settings.brand(brand), self.tokens, session)
            return
        if brand not in self._clients:
            self._clients[brand] = build_client(
                self.settings, self.settings.brand(brand), self.tokens, self._session
            )
        yield self._clients[brand]

    def run_job(
        self,
        brand: str,
        entity: str,
        *,
        mode: str,
        stop: threading.Event,
        lease: Lease,
        options: SyncOptions | None = None,
        resume: RunRecord | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> RunResult:
        """One run of the job holding its `lease`: renewed while the run lasts (losing it sets
        `stop`, so the run ends at its next batch), released at the end.

        The store's `start_run` marks a dead holder's `running` row of the job
        `abandoned`: holding the lease, any such row is one.
        """
        with lease.keep(on_lost=stop.set), self.client(brand) as client:
            return sync_entity(
                client,
                self.store,
                entity,
                options=options or self.options(),
                mode=mode,
                stop=stop,
                resume=resume,
                on_progress=on_progress,
            )


@contextmanager
def open_runtime(settings: Settings, *, migrate: bool = False) -> Iterator[Runtime]:
    """Engine (migrated with `migrate`), store, leases and tokens for one command; the token
    manager is closed at the end."""
    with open_engine(settings, migrate=migrate) as engine, requests.Session() as session:
        store = build_store(settings, engine)
        leases = LeaseStore(engine, ttl_seconds=settings.lease_ttl_seconds)
        tokens = build_token_manager(
            settings, store=build_token_store(settings, engine), session=session
        )
        try:
            yield Runtime(settings, engine, tokens, leases, store=store, session=session)
        finally:
            tokens.close()


@contextmanager
def open_token_manager(
    settings: Settings, choice: StoreChoice, *, migrate: bool
) -> Iterator[TokenManager]:
    """A token manager over the `choice` of store, closed at the end. Only the postgres
    store (`auto` with `TOKEN_ENCRYPTION_KEY`) opens the database, migrated with `migrate`."""
    with ExitStack() as stack:
        engine = None
        wants_db = choice == "postgres" or (
            choice == "auto" and getattr(settings, "token_encryption_key", None) is not None
        )
        if wants_db:
            engine = stack.enter_context(open_engine(settings, migrate=migrate))
        manager = build_token_manager(settings, store=build_token_store(settings, engine, choice))
        stack.callback(manager.close)
        yield manager
