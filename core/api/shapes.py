"""The OpenAPI side of the answers' shapes (core.shaping; each app declares its own):
each Shape's serializer, for drf-spectacular only (nothing encodes with these)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from core.api.money_fields import AmountField, CurrencyField, PercentField
from core.shaping import Kind, Shape


@extend_schema_serializer(component_name="Discount")
class DiscountSchema(serializers.Serializer):
    """What a code is worth: a percentage or an amount off, with its limits."""

    percent_off = PercentField(allow_null=True)
    amount_off = AmountField(allow_null=True)
    currency = CurrencyField(allow_null=True)
    max_amount_off = AmountField(allow_null=True)
    min_order_amount = AmountField(allow_null=True)


@extend_schema_serializer(component_name="RefusalDetails")
class DetailsSchema(serializers.Serializer):
    """What an order lacks to take a discount."""

    min_order_amount = AmountField(required=False)
    shortfall = AmountField(required=False)
    currency = CurrencyField(required=False)


@extend_schema_serializer(component_name="Money")
class MoneySchema(serializers.Serializer):
    """An amount in a currency's minor unit."""

    amount = AmountField()
    currency = CurrencyField()


def _metadata_schema(**options: Any) -> serializers.Field:
    return serializers.DictField(child=serializers.CharField(), **options)


def _object_schema(**options: Any) -> serializers.Field:
    return serializers.DictField(**options)


def _strings_schema(**options: Any) -> serializers.Field:
    return serializers.ListField(child=serializers.CharField(), **options)


_SCHEMA: dict[Kind, Callable[..., serializers.Field]] = {
    "uuid": serializers.UUIDField,
    "string": serializers.CharField,
    "integer": serializers.IntegerField,
    "boolean": serializers.BooleanField,
    "datetime": serializers.DateTimeField,
    "discount": DiscountSchema,
    "metadata": _metadata_schema,
    "details": DetailsSchema,
    "money": MoneySchema,
    "object": _object_schema,
    "strings": _strings_schema,
    "currency": CurrencyField,
}


@cache
def serializer_of(shape: Shape) -> type[serializers.Serializer]:
    """The OpenAPI component of `shape` (one class per shape, made once)."""
    declared: dict[str, Any] = {}
    for name, field in shape.fields.items():
        options: dict[str, Any] = {"allow_null": field.nullable}
        if field.minimum is not None:
            options["min_value"] = field.minimum
        if field.help:
            options["help_text"] = field.help
        if field.choices is not None:
            declared[name] = serializers.ChoiceField(choices=field.choices, **options)
        elif field.kind == "objects":
            item = serializer_of(field.items)() if field.items else serializers.DictField()
            declared[name] = serializers.ListField(child=item, **options)
        else:
            declared[name] = _SCHEMA[field.kind](**options)
    declared["__doc__"] = shape.doc
    cls = type(f"{shape.component}Out", (serializers.Serializer,), declared)
    return extend_schema_serializer(component_name=shape.component)(cls)
