"""Apply the Alembic migrations (the schema's only history) programmatically."""

from __future__ import annotations

from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory


def alembic_config(engine: sa.Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("worker.migrations")))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade_head(engine: sa.Engine) -> None:
    command.upgrade(alembic_config(engine), "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
