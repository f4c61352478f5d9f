"""The `rei-sync sandbox` options, derived from the `SandboxConfig` and `FaultSettings` fields.

A field with a `Knob` is an option named after it (or `Knob.flag`) with its
default and help: a tuple is a repeatable option (or one comma-separated value),
a `Literal` a string checked against its values, and `token_outage` the options
of `TokenOutage`'s fields (`--token-outage-mode`, which sets it, and
`--token-outage-seconds`). Nothing here knows the CLI library (`cli.py` does).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, cast, get_args, get_origin, get_type_hints

from worker.sandbox.config import FaultSettings, Knob, SandboxConfig, knob_of, one_of

Values = Mapping[str, Any]


@dataclass(frozen=True)
class Option:
    """One option: its parameter name (`error_status` is `--error-status`), type, default, help."""

    name: str
    kind: Any
    default: Any
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


class OptionError(ValueError):
    """An option's value the config cannot take; `flag` names the option."""

    def __init__(self, message: str, flag: str) -> None:
        super().__init__(message)
        self.flag = flag


@dataclass(frozen=True)
class _Reader:
    """How one config field is read from the parsed options."""

    field: str
    options: tuple[Option, ...]
    read: Callable[[Values], Any]


def _scalar(name: str, hint: Any, default: Any, knob: Knob) -> _Reader:
    choices: tuple[str, ...] = get_args(hint) if get_origin(hint) is Literal else ()
    cli_default = default if knob.cli_default is None else knob.cli_default
    option = Option(name, str if choices else hint, cli_default, knob.help)

    def read(values: Values) -> Any:
        value = values[name]
        if choices and value not in choices:
            raise OptionError(f"must be {one_of(choices)}", option.flag)
        return value

    return _Reader(name, (option,), read)


def _repeated(name: str, hint: Any, default: tuple[Any, ...], knob: Knob) -> _Reader:
    item = get_args(hint)[0]
    if knob.comma_list:
        listed = Option(name, str, ",".join(map(str, default)), knob.help)

        def read_listed(values: Values) -> tuple[Any, ...]:
            try:
                return tuple(item(part) for part in values[name].split(","))
            except ValueError:
                raise OptionError(f"must be {len(default)} integers", listed.flag) from None

        return _Reader(name, (listed,), read_listed)
    repeated = Option(knob.flag or name, types.GenericAlias(list, (item,)) | None, None, knob.help)
    each = knob.cli_item or (lambda value: value)

    def read(values: Values) -> tuple[Any, ...]:
        given = values[repeated.name]
        return tuple(each(value) for value in given) if given else default

    return _Reader(name, (repeated,), read)


def _nested(name: str, cls: type[Any]) -> _Reader:
    """The options of a dataclass's fields, prefixed; the first one, when given, sets it."""
    hints = get_type_hints(cls)
    parts = [_scalar(f"{name}_{f.name}", hints[f.name], f.default, _knob(f)) for f in fields(cls)]
    first = parts[0].options[0]
    options = (
        dataclasses.replace(first, kind=first.kind | None, default=None),
        *(o for part in parts[1:] for o in part.options),
    )

    def read(values: Values) -> Any:
        if values[first.name] is None:
            return None
        return cls(*(part.read(values) for part in parts))

    return _Reader(name, options, read)


def _knob(declared: dataclasses.Field[Any]) -> Knob:
    found = knob_of(declared)
    if found is None:
        raise TypeError(f"{declared.name} has no Knob")
    return found


def _readers(cls: type[Any]) -> list[_Reader]:
    hints = get_type_hints(cls)
    readers: list[_Reader] = []
    for declared in fields(cls):
        hint, default = hints[declared.name], cast(Any, declared.default)
        if hint is FaultSettings:
            readers += _readers(FaultSettings)
        elif knob_of(declared) is None:
            continue
        elif get_origin(hint) is tuple:
            readers.append(_repeated(declared.name, hint, default, _knob(declared)))
        elif get_origin(hint) is types.UnionType:  # `token_outage`: a dataclass, or None
            readers.append(_nested(declared.name, get_args(hint)[0]))
        else:
            readers.append(_scalar(declared.name, hint, default, _knob(declared)))
    return readers


_READERS = _readers(SandboxConfig)
OPTIONS = tuple(option for reader in _READERS for option in reader.options)
"""Every `rei-sync sandbox` option, in the order `--help` lists them."""


def config_from_options(values: Values) -> SandboxConfig:
    """The config of parsed option values (keyed by `Option.name`).

    Raises OptionError for a value no option takes, ValueError for one the config refuses.
    """
    return SandboxConfig(**{reader.field: reader.read(values) for reader in _READERS})
