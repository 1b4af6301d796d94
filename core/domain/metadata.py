"""Metadata: a client's own small JSON object of strings on coupons, campaigns, redemptions
and reservations; its bounds, and how a PATCH merges into it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import ValidationFailed

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500
# The largest patch that means something: remove all 50 keys and set 50 new ones.
MAX_PATCH_KEYS = 2 * MAX_KEYS

OBJECT_MESSAGE = "Must be a JSON object."
TOO_MANY_KEYS_MESSAGE = f"At most {MAX_KEYS} keys."
VALUE_MESSAGE = f"Must be a string of at most {MAX_VALUE_LENGTH} characters."
PATCH_VALUE_MESSAGE = (
    f"Must be a string of at most {MAX_VALUE_LENGTH} characters, or null to remove the key."
)
TEXT_MESSAGE = "Must be text without NUL characters or lone surrogates."


class MetadataTooLarge(ValidationFailed):
    """A merge whose result would have more than MAX_KEYS keys: a 400 on `field`."""


def _storable(text: str) -> bool:
    """Whether PostgreSQL's jsonb can keep `text`: it refuses \\u0000, and a lone surrogate
    (JSON allows "\\ud800") cannot be encoded as UTF-8. Either would be a 500, not a 400."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(key: str) -> str:
    """A bad key as an error message quotes it: short, whatever was sent."""
    return repr(key if len(key) <= MAX_KEY_LENGTH else key[:MAX_KEY_LENGTH] + "…")


def metadata_problems(
    value: object, *, for_patch: bool = False, field: str = "metadata"
) -> dict[str, list[str]]:
    """The contract's bounds, as `{"metadata.<key>": [...]}` for a bad value and
    `{"metadata": [...]}` for the object as a whole or a bad key (a key over 40 characters
    or with a NUL is shown, shortened, in the message rather than used as an error key).

    With `for_patch`, a value may be null (remove the key), and the patch may name up to
    MAX_PATCH_KEYS keys of which at most MAX_KEYS are set; merge_metadata checks the result.
    """
    if not isinstance(value, dict):
        return {field: [OBJECT_MESSAGE]}
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    set_keys = sum(1 for item in value.values() if item is not None)
    if (set_keys if for_patch else len(value)) > MAX_KEYS:
        add(field, TOO_MANY_KEYS_MESSAGE)
    if for_patch and len(value) > MAX_PATCH_KEYS:
        add(field, f"A patch names at most {MAX_PATCH_KEYS} keys.")
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH or not _storable(key):
            add(field, f"Key {_shown(str(key))}: keys are 1 to {MAX_KEY_LENGTH} characters.")
            continue
        if item is None and for_patch:
            continue
        if not isinstance(item, str) or len(item) > MAX_VALUE_LENGTH:
            add(f"{field}.{key}", PATCH_VALUE_MESSAGE if for_patch else VALUE_MESSAGE)
        elif not _storable(item):
            add(f"{field}.{key}", TEXT_MESSAGE)
    return problems


def merge_metadata(
    current: Mapping[str, str], patch: Mapping[str, str | None], *, field: str = "metadata"
) -> dict[str, str]:
    """`current` with `patch` applied: a null removes the key, a string sets it; keys the
    patch does not name stay. MetadataTooLarge when the result would have more than
    MAX_KEYS keys (nothing is merged then: the PATCH is a 400 as a whole). `patch` must
    have passed metadata_problems(..., for_patch=True)."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_KEYS:
        raise MetadataTooLarge(
            {
                field: [
                    f"{TOO_MANY_KEYS_MESSAGE} This patch would leave {len(merged)}: "
                    "remove some with null in the same patch."
                ]
            }
        )
    return merged


def metadata_json(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """Metadata as answers show it: `{}` rather than null."""
    return dict(value or {})
