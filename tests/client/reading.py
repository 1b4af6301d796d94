"""Reading the server's answers through the generated client, strictly: the status is one the
document declares, the body parses into the operation's model, and every field of every
model holds the type its annotation says. The generated parsers are lenient where a union
is involved (a nullable model that fails to parse is kept as the raw dict), and a model keeps
keys it does not know in `additional_properties`: both would hide a model that cannot read
what the server sends, so both fail here."""

from __future__ import annotations

import datetime
import sys
import types
import typing
import uuid
from typing import Any

import attrs


def assert_reads(value: Any, *, where: str) -> None:
    """`value`, a parsed model (or a list of them), holds only what its annotations allow."""
    if isinstance(value, list):
        for number, item in enumerate(value):
            assert_reads(item, where=f"{where}[{number}]")
        return
    assert attrs.has(type(value)), f"{where}: not a model but {type(value).__name__}: {value!r}"
    _check_model(value, where)


def _hints(model_class: type) -> dict[str, Any]:
    """The annotations of a generated model, resolved: its module imports the other models
    only for type checkers, so they are looked up in the models package."""
    module = sys.modules[model_class.__module__]
    package = sys.modules[model_class.__module__.rsplit(".", 1)[0]]
    names = {**vars(package), "datetime": datetime, "UUID": uuid.UUID}
    return typing.get_type_hints(model_class, globalns=vars(module), localns=names)


def _check_model(model: Any, where: str) -> None:
    hints = _hints(type(model))
    named = [f.name for f in attrs.fields(type(model)) if f.name != "additional_properties"]
    for name in named:
        _check(getattr(model, name), hints[name], f"{where}.{name}")
    extra = getattr(model, "additional_properties", {})  # absent: a closed object
    if named:  # a model with fields of its own knows every key the server sends
        assert not extra, f"{where}: keys the model does not know: {sorted(extra)}"
    else:  # a map (metadata, errors by field): its values as the annotation says
        _check(extra, hints["additional_properties"], f"{where}")


def _check(value: Any, annotation: Any, where: str) -> None:
    if annotation is Any:
        return
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        failures = []
        for option in args:
            try:
                _check(value, option, where)
                return
            except AssertionError as failure:
                failures.append(str(failure))
        raise AssertionError(f"{where}: {value!r} is none of {annotation}: {failures}")
    if origin is list:
        assert isinstance(value, list), f"{where}: {value!r} is not a list"
        for number, item in enumerate(value):
            _check(item, args[0], f"{where}[{number}]")
        return
    if origin is dict:
        assert isinstance(value, dict), f"{where}: {value!r} is not a map"
        for key, item in value.items():
            _check(key, args[0], f"{where} key")
            _check(item, args[1], f"{where}[{key!r}]")
        return
    if annotation is type(None):
        assert value is None, f"{where}: {value!r} is not null"
        return
    if annotation in (int, float):  # JSON numbers; a boolean is no number
        allowed = int if annotation is int else (int, float)
        assert isinstance(value, allowed) and not isinstance(value, bool), (
            f"{where}: {value!r} is not {annotation.__name__}"
        )
        return
    assert isinstance(value, annotation), f"{where}: {value!r} is not {annotation}"
    if attrs.has(annotation):
        _check_model(value, where)
