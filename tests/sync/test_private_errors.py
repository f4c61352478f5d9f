"""A run that fails on a database error records (and logs) the error without the row's
values: a private value the normaliser let by must not reach `sync_runs.error`."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from tests.sync.conftest import Harness
from worker.db.schema import Reject, Row
from worker.sync.entities import PROPERTIES_ENTITY
from worker.sync.normalise import normalise_property

SECRET = Decimal("612345678901234.5678")


def leaky(raw: Any) -> Row | Reject:
    """The normaliser, with one listing's commission beyond what its column holds."""
    result = normalise_property(raw)
    if isinstance(result, Row) and result.source_id % 7 == 3:
        private = {**(result.private or {}), "listing_side_comm": SECRET}
        return dataclasses.replace(result, private=private)
    return result


def test_a_failed_copy_leaves_no_private_value_in_the_run_error(harness: Harness) -> None:
    entity = dataclasses.replace(PROPERTIES_ENTITY, normalise=leaky)
    result = harness.sync(entity)
    assert result.status == "failed"
    assert result.error is not None
    assert "SQLSTATE 22003" in result.error
    stored = harness.scalar("SELECT error FROM sync_runs WHERE id = :i", i=result.run_id)
    for text in (result.error, stored):
        assert "612345678901234" not in text
        assert "CONTEXT" not in text
        assert "DETAIL" not in text
