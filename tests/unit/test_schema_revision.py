"""`worker.db.revision.HEAD_REVISION`, which the sync checks without Alembic, is Alembic's head."""

from __future__ import annotations

from worker.db.migrate import head_revision
from worker.db.revision import HEAD_REVISION


def test_the_head_written_in_the_code_is_the_newest_migration() -> None:
    assert head_revision() == HEAD_REVISION
