"""Input fields of the contract's third part: an order's lines (checked by the domain's
rules, coupons.domain.orders, in one pass: 500 lines through nested serializers would cost
more than the redemption) and a discount's targeting objects (checked by
coupons.domain.discounts.discount_problems)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.domain.money import MAX_AMOUNT
from coupons.domain.discounts import DISCOUNT_CLASSES
from coupons.domain.limits import (
    MAX_LINE_TAGS,
    MAX_LINE_TEXT_LENGTH,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_SELECTOR_ITEMS,
)
from coupons.domain.orders import Line, line_from_json, lines_problems

_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_LINE_TEXT_LENGTH,
         "pattern": "^[ -~]+$"}  # fmt: skip
_TAGS = {"type": "array", "maxItems": MAX_LINE_TAGS, "items": _TEXT}
LINE_SCHEMA = {
    "type": "object",
    "required": ["id", "quantity", "unit_amount"],
    "additionalProperties": False,
    "properties": {
        "id": {**_TEXT, "description": "Unique within the order."},
        "product_id": {**_TEXT, "nullable": True},
        "variant_id": {**_TEXT, "nullable": True},
        "categories": _TAGS,
        "collections": _TAGS,
        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        "unit_amount": {
            "type": "integer",
            "format": "int64",
            "minimum": 0,
            "maximum": MAX_AMOUNT,
        },
        "discountable": {"type": "boolean", "default": True},
    },
}


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_LINES,
        "items": LINE_SCHEMA,
        "description": "The order's lines; quantity x unit_amount each, and their sum, at "
        f"most {MAX_AMOUNT:,}.",
    }
)
class LinesField(serializers.Field):
    """`order.lines`: a list of 1-500 lines; a bad one is named `lines.<index>.<field>`."""

    def to_internal_value(self, data: Any) -> tuple[Line, ...]:
        problems = lines_problems(data, prefix="")
        if problems:
            # Keys come back as ".1.quantity" (or "" for the list itself): DRF nests them
            # under this field's name, and the API's flattening adds the dots.
            raise serializers.ValidationError(
                {
                    key.lstrip(".") or "non_field_errors": messages
                    for key, messages in problems.items()
                }
            )
        return tuple(line_from_json(line) for line in data)

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - input only
        return value


_SELECTOR = {
    "type": "object",
    "nullable": True,
    "additionalProperties": False,
    "properties": {
        name: {"type": "array", "maxItems": MAX_SELECTOR_ITEMS, "items": _TEXT}
        for name in ("product_ids", "variant_ids", "categories", "collections")
    },
    "description": "Lines whose product, variant, a category or a collection is named; "
    "null: every line.",
}


class ParsedJsonField(serializers.Field):
    """A JSON value passed on as parsed (percentages as Decimal) for the domain's rules to
    check; DRF's JSONField would re-encode it first, and refuse a Decimal."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - input only
        return value


@extend_schema_field(_SELECTOR)
class SelectorField(ParsedJsonField):
    """`applies_to` or `excludes`, passed as parsed to the domain's rules."""


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {
            "buy": {"type": "object", "properties": {
                "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
                "applies_to": _SELECTOR}},
            "get": {"type": "object", "properties": {
                "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
                "applies_to": _SELECTOR,
                "percent_off": {"type": "number", "minimum": 1, "maximum": 100,
                                "multipleOf": 0.01, "default": 100}}},
            "max_applications": {"type": "integer", "nullable": True, "minimum": 1},
        },
        "description": "A third kind beside percent_off and amount_off: buy.quantity units "
        "bought give get.quantity (the cheapest) get.percent_off off.",
    }
)  # fmt: skip
class BuyXGetYField(ParsedJsonField):
    """`buy_x_get_y`, passed as parsed to the domain's rules."""


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {name: {"type": "boolean", "default": False} for name in DISCOUNT_CLASSES},
        "description": "The classes of discount this one may be used with on one order "
        "(product, order, shipping); a key left out is false. Returned whole.",
    }
)
class CombinesWithField(ParsedJsonField):
    """`combines_with`, passed as parsed to the domain's rules."""
