"""The shared vocabulary's column tuples are exactly what the normalisers produce."""

from __future__ import annotations

from worker.db import schema
from worker.sync.normalise import AssociateRecord, PropertyPrivateRecord, PropertyRecord


def test_property_private_columns_are_the_private_model_fields() -> None:
    assert tuple(PropertyPrivateRecord.model_fields) == schema.PROPERTY_PRIVATE_COLUMNS


def test_associate_columns_are_the_model_fields_but_the_key() -> None:
    fields = tuple(AssociateRecord.model_fields)
    assert fields[0] == schema.ASSOCIATES_TABLE.key
    assert fields[1:] == schema.ASSOCIATE_COLUMNS


def test_property_columns_are_model_fields_or_coordinates() -> None:
    model = set(PropertyRecord.model_fields)
    assert set(schema.PROPERTY_COLUMNS) - model == {"latitude", "longitude"}


def test_run_status_is_stored_as_its_value() -> None:
    assert schema.RunStatus.SUCCEEDED == "succeeded"
    assert f"{schema.RunStatus.DELIST_GUARD_TRIPPED}" == "delist_guard_tripped"
    assert set(schema.SUCCESS_STATUSES) == {"succeeded", "succeeded_with_rejects"}
