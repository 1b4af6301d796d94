"""Input fields for money and metadata: JSON types checked strictly, the rules themselves in
coupons.domain (one place for the API, the admin and the database). The objects built of
them (a discount, an order) are input serializers, in coupons.api.serializers.

Percentages arrive as `Decimal` only if the body was parsed with
`json.loads(..., parse_float=Decimal)`; a float is refused, never rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from core.domain.metadata import (
    MAX_KEY_LENGTH,
    MAX_KEYS,
    MAX_PATCH_KEYS,
    MAX_VALUE_LENGTH,
    metadata_problems,
)
from core.domain.money import (
    AMOUNT_MESSAGE,
    CURRENCY_MESSAGE,
    MAX_AMOUNT,
    PERCENT_MESSAGE,
    PERCENT_STEP,
    as_percent,
    currencies,
    is_currency,
    is_percent,
    percent_json,
)


@extend_schema_field(
    {
        # OpenAPI 3.0 (drf-spectacular's default here): exclusiveMinimum is a flag.
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 100,
        "multipleOf": float(PERCENT_STEP),
        "example": 12.5,
        "description": "A percentage, more than 0 and at most 100, with at most two decimals.",
    }
)
class PercentField(serializers.Field):
    """A JSON number read exactly (a `Decimal`, or an int), never a float, string or boolean;
    more than 0, at most 100, at most two decimals. Gives a `Decimal` with two decimals."""

    default_error_messages = {"invalid": PERCENT_MESSAGE}

    def to_internal_value(self, data: Any) -> Decimal:
        if not is_percent(data):
            self.fail("invalid")
        return as_percent(data)

    def to_representation(self, value: Decimal) -> int | float:
        return percent_json(value)


@extend_schema_field(
    {
        "type": "integer",
        "format": "int64",
        "minimum": 0,
        "maximum": MAX_AMOUNT,
        "description": "An amount in the currency's minor unit (cents for EUR, yen for JPY).",
    }
)
class AmountField(serializers.IntegerField):
    """A JSON integer from 0 to MAX_AMOUNT, in minor units (no strings, floats, booleans)."""

    default_error_messages = {
        "invalid": AMOUNT_MESSAGE,
        "min_value": AMOUNT_MESSAGE,
        "max_value": AMOUNT_MESSAGE,
        "max_string_length": AMOUNT_MESSAGE,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=MAX_AMOUNT, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


@extend_schema_field(
    {
        "type": "string",
        "enum": currencies(),
        "example": "EUR",
        "description": "An ISO 4217 currency code, upper case.",
    }
)
class CurrencyField(serializers.Field):
    """An ISO 4217 code in upper case, as sent (no trimming: " EUR" is not a code)."""

    default_error_messages = {"invalid": CURRENCY_MESSAGE}

    def to_internal_value(self, data: Any) -> str:
        if not is_currency(data):
            self.fail("invalid")
        return str(data)

    def to_representation(self, value: str) -> str:
        return value


# Metadata errors come from the domain as "metadata" (the object) and "metadata.<key>";
# a field's errors are nested under its own name by DRF, so they are re-keyed here.
_FIELD = "metadata"


def _nested(problems: dict[str, list[str]]) -> dict[str, list[str]]:
    nested: dict[str, list[str]] = {}
    for name, messages in problems.items():
        key = api_settings.NON_FIELD_ERRORS_KEY if name == _FIELD else name[len(_FIELD) + 1 :]
        nested.setdefault(key, []).extend(messages)
    return nested


_METADATA_DESCRIPTION = (
    f"Your own data: at most {MAX_KEYS} keys of 1 to {MAX_KEY_LENGTH} characters, "
    f"string values of at most {MAX_VALUE_LENGTH} characters."
)


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_KEYS,
        "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
        "description": _METADATA_DESCRIPTION,
    }
)
class MetadataField(serializers.Field):
    """`metadata` on a create (or a redeem, a hold): a JSON object of strings."""

    for_patch = False

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        problems = metadata_problems(data, for_patch=self.for_patch, field=_FIELD)
        if problems:
            raise serializers.ValidationError(_nested(problems))
        return dict(data)

    def to_representation(self, value: Mapping[str, str]) -> dict[str, str]:
        return dict(value)


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_PATCH_KEYS,
        "additionalProperties": {
            "type": "string",
            "maxLength": MAX_VALUE_LENGTH,
            "nullable": True,
        },
        "description": _METADATA_DESCRIPTION + " Merged into the current metadata: a key set "
        "to null is removed; at most 50 keys may remain.",
    }
)
class MetadataPatchField(MetadataField):
    """`metadata` on a PATCH: a null value removes the key (see merge_metadata)."""

    for_patch = True
