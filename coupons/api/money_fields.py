"""Input fields for money, discounts, orders and metadata: JSON types checked strictly, the
rules themselves in coupons.domain (one place for the API, the admin and the database).

Percentages arrive as `Decimal` only if the body was parsed with
`json.loads(..., parse_float=Decimal)`; a float is refused, never rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from coupons.api.serializers import InputSerializer, StrictIntegerField
from coupons.domain.discounts import DISCOUNT_FIELDS, discount_problems, percent_json
from coupons.domain.metadata import (
    MAX_KEY_LENGTH,
    MAX_KEYS,
    MAX_PATCH_KEYS,
    MAX_VALUE_LENGTH,
    metadata_problems,
)
from coupons.domain.money import (
    AMOUNT_MESSAGE,
    CURRENCY_MESSAGE,
    MAX_AMOUNT,
    PERCENT_MESSAGE,
    PERCENT_STEP,
    as_percent,
    currencies,
    is_currency,
    is_percent,
)

UNKNOWN_FIELD_MESSAGE = "Unknown field."


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
class AmountField(StrictIntegerField):
    """A JSON integer from 0 to MAX_AMOUNT, in minor units (no strings, floats, booleans)."""

    default_error_messages = {
        "invalid": AMOUNT_MESSAGE,
        "min_value": AMOUNT_MESSAGE,
        "max_value": AMOUNT_MESSAGE,
        "max_string_length": AMOUNT_MESSAGE,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=MAX_AMOUNT, **kwargs)


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


class ClosedInput(InputSerializer):
    """An object that refuses keys it does not know (a typo must not pass as a no-op),
    reported together with the other field errors."""

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            unknown = {
                str(name): [UNKNOWN_FIELD_MESSAGE] for name in sorted(set(data) - set(self.fields))
            }
        try:
            attrs = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**unknown, **exc.detail}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return attrs


class ClosedInputExtension(OpenApiSerializerExtension):
    """Says `additionalProperties: false` for every ClosedInput in the OpenAPI document."""

    target_class = ClosedInput
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


class DiscountInput(ClosedInput):
    """What a code is worth: exactly one of `percent_off` and `amount_off`. `currency` is
    required with `amount_off`, `max_amount_off` (percent only) or `min_order_amount`; a
    percent discount without a currency applies to an order in any currency."""

    # Validated data: all five keys, None where not given, ready for Discount(**value).

    percent_off = PercentField(required=False, allow_null=True)
    amount_off = AmountField(required=False, allow_null=True)
    currency = CurrencyField(required=False, allow_null=True)
    max_amount_off = AmountField(required=False, allow_null=True)
    min_order_amount = AmountField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        values = {name: attrs.get(name) for name in DISCOUNT_FIELDS}
        problems = discount_problems(**values)
        if problems:
            raise serializers.ValidationError(problems)
        return values


class OrderInput(ClosedInput):
    """The order a code is used on: its amount in the currency's minor unit."""

    amount = AmountField()
    currency = CurrencyField()


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
