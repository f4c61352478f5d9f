"""The `rei-sync sandbox` options and `SandboxConfig` keywords derive from one declaration."""

from __future__ import annotations

from dataclasses import fields

import pytest

from worker.sandbox import FaultSettings, SandboxConfig, TokenOutage
from worker.sandbox.options import OPTIONS, OptionError, config_from_options

DEFAULTS = {option.name: option.default for option in OPTIONS}


def test_every_fault_knob_has_an_option() -> None:
    names = {option.name for option in OPTIONS}
    singular = {"error_statuses": "error_status", "failing_offsets": "failing_offset"}
    singular["failing_images_ids"] = "failing_images_id"
    for knob in fields(FaultSettings):
        if knob.name == "token_outage":
            assert {"token_outage_mode", "token_outage_seconds"} <= names
        else:
            assert singular.get(knob.name, knob.name) in names, knob.name


def test_the_default_options_give_the_default_config_on_port_8765() -> None:
    assert config_from_options(DEFAULTS) == SandboxConfig(port=8765)


def test_options_map_onto_the_config() -> None:
    values = {
        **DEFAULTS,
        "brand": ["one", "two"],
        "error_status": [502],
        "token_outage_mode": "refuse",
        "token_outage_seconds": 5.0,
        "failing_offset": [9, 3],
        "status_ids": "21,22,23,24,25,26,27",
        "retry_after_format": "http-date",
    }
    config = config_from_options(values)
    assert config.brands == ("ONE", "TWO")
    assert config.status_ids == (21, 22, 23, 24, 25, 26, 27)
    assert config.faults.error_statuses == (502,)
    assert config.faults.token_outage == TokenOutage("refuse", 5.0)
    assert config.faults.failing_offsets == (3, 9)
    assert config.faults.retry_after_format == "http-date"


@pytest.mark.parametrize(
    ("name", "value", "flag"),
    [
        ("token_outage_mode", "boom", "--token-outage-mode"),
        ("failing_images_mode", "x", "--failing-images-mode"),
        ("removed_listings", "x", "--removed-listings"),
        ("status_ids", "1,2,x", "--status-ids"),
    ],
)
def test_a_value_no_option_takes_names_the_flag(name: str, value: str, flag: str) -> None:
    with pytest.raises(OptionError) as caught:
        config_from_options({**DEFAULTS, name: value})
    assert caught.value.flag == flag


def test_fault_knobs_are_keywords_of_the_config_and_checked() -> None:
    config = SandboxConfig(seed=3, error_rate=0.5, failing_offsets=(9, 3, 3))
    assert config.faults == FaultSettings(error_rate=0.5, failing_offsets=(3, 9))
    base = SandboxConfig(faults=FaultSettings(stall_rate=0.1), error_rate=0.2)
    assert (base.faults.stall_rate, base.faults.error_rate) == (0.1, 0.2)
    with pytest.raises(ValueError, match="between 0 and 1"):
        SandboxConfig(error_rate=2)
    with pytest.raises(TypeError, match="no_such_knob"):
        SandboxConfig(no_such_knob=1)
