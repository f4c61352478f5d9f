"""Which sink a process writes to: Supabase's REST API or the Postgres of `DATABASE_URL`.

The REST sink is chosen when `SUPABASE_URL` and `SUPABASE_SERVICE_ROLE_KEY` are set and
`DATABASE_URL` is not (then the local embedded Postgres still holds leases and tokens).
"""

from __future__ import annotations

import sqlalchemy as sa

from worker.config import Settings
from worker.errors import ConfigError
from worker.sinks.base import Store
from worker.sinks.postgres import PostgresSink


def build_store(settings: Settings, engine: sa.Engine) -> Store:
    if not settings.uses_supabase_rest:
        return PostgresSink(engine)
    try:
        from worker.sinks.supabase import SupabaseSink, create_supabase_client
    except ImportError:
        raise ConfigError(
            "SUPABASE_URL",
            "the REST sink needs the supabase extra: pip install 'rei-sync[supabase]'",
        ) from None
    assert settings.supabase_url is not None
    assert settings.supabase_service_role_key is not None
    client = create_supabase_client(
        settings.supabase_url,
        settings.supabase_service_role_key.get_secret_value(),
        read_timeout=settings.rei_read_timeout_seconds * 2,
    )
    return SupabaseSink(client)
