"""Apply the Alembic migrations (the schema's only history) programmatically, and tell
whether a database's schema is the one this code needs.

Only `migrate`, the writing commands and `run --migrate` upgrade; everything else calls
`require_current_schema` and says "run `rei-sync migrate`" when the schema is behind. A
schema newer than the code (a revision this code does not know) is refused everywhere,
upgrading included: an older worker must not write into a newer schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from worker.errors import SchemaError


def alembic_config(engine: sa.Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("worker.migrations")))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str | None
    known: bool
    """`current` is one of this code's revisions (or the database has none yet)."""

    @property
    def up_to_date(self) -> bool:
        return self.known and self.current == self.head

    def problem(self) -> str | None:
        """One line saying what is wrong and what to do, or None when up to date."""
        if not self.known:
            return (
                f"database schema {self.current} is newer than this rei-sync (head "
                f"{self.head}): upgrade rei-sync, it will not use a schema it does not know"
            )
        if self.current != self.head:
            shown = self.current or "empty (no migration applied)"
            return f"database schema is at {shown}, head is {self.head}: run `rei-sync migrate`"
        return None


def schema_state(engine: sa.Engine) -> SchemaState:
    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision(engine)
    known = current is None or current in {r.revision for r in script.walk_revisions()}
    return SchemaState(current, script.get_current_head(), known)


def require_current_schema(engine: sa.Engine) -> None:
    """`SchemaError` unless the database is at this code's head (reads never migrate)."""
    problem = schema_state(engine).problem()
    if problem is not None:
        raise SchemaError(problem)


def upgrade_head(engine: sa.Engine) -> None:
    state = schema_state(engine)
    if not state.known:
        raise SchemaError(str(state.problem()))
    if not state.up_to_date:
        command.upgrade(alembic_config(engine), "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
