"""Whether a JSON example in the docs has the shape of a real answer: the same keys at every
depth and values of the same JSON types; the values themselves (ids, timestamps, amounts)
may differ."""

from __future__ import annotations

from typing import Any


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names[type(value)]


def shape_mismatches(example: Any, real: Any, where: str = "") -> list[str]:
    """What differs between the example's shape and the real answer's, by path."""
    if json_type(example) != json_type(real):
        return [f"{where or '.'}: {json_type(example)} in the example, {json_type(real)} for real"]
    found = []
    if isinstance(example, dict):
        if missing := sorted(set(real) - set(example)):
            found.append(f"{where or '.'}: the example lacks {missing}")
        if extra := sorted(set(example) - set(real)):
            found.append(f"{where or '.'}: the real answer has no {extra}")
        for key in sorted(set(example) & set(real)):
            found += shape_mismatches(example[key], real[key], f"{where}.{key}")
    elif isinstance(example, list) and real:
        for number, item in enumerate(example):  # items alike: each against a real one
            found += shape_mismatches(item, real[min(number, len(real) - 1)], f"{where}[{number}]")
    return found
