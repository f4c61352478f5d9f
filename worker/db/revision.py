"""Whether a database is at this code's schema revision, told without importing Alembic.

Alembic (and Mako, and its dialect modules) cost a command a quarter of a second to
import, and every `sync` checked the schema through it. The head revision is written here
(tests/unit/test_schema_revision.py fails when it is not Alembic's head), and a database at
head is one row in `alembic_version`: that is all a sync on a current schema needs to know.
Anything else (no table, another revision, several heads) goes to `worker.db.migrate`.
"""

from __future__ import annotations

import sqlalchemy as sa

HEAD_REVISION = "0006_change_feed"
"""The newest migration in migrations/versions/: a new migration updates it."""


def at_head(connection: sa.Connection) -> bool:
    """The database's `alembic_version` (as Alembic finds it, on the search path) holds
    exactly `HEAD_REVISION`."""
    found = connection.execute(sa.text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not found.scalar_one():
        return False
    versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
    return list(versions) == [HEAD_REVISION]
