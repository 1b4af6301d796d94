"""Input validation only: JSON types checked strictly, no database access, no business rules.

Responses are shaped by hand in `coupons.api.shapes` (adrf serializers hop threads per field).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from coupons.api.problems import flatten_errors
from coupons.errors import ValidationFailed
from coupons.models import (
    MAX_CODE_LENGTH,
    MAX_CUSTOMER_ID_LENGTH,
    MAX_INIT_COUNT,
    MAX_ORDER_ID_LENGTH,
)

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
code_validator = RegexValidator(
    CODE_PATTERN,
    "Use 1 to 64 of A-Z a-z 0-9 - _, starting with a letter or digit.",
)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: no strings, floats or booleans."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictCharField(serializers.CharField):
    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))


class TimestampField(serializers.DateTimeField):
    """An RFC 3339 timestamp with its offset (a bare local time is ambiguous)."""

    default_error_messages = {
        "invalid": "Must be an RFC 3339 timestamp with an offset, like 2026-11-24T12:00:00Z.",
        "naive": "Give the offset (Z for UTC).",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("invalid")
        parsed = super().to_internal_value(value)
        if parsed.tzinfo is None:  # pragma: no cover - DRF makes it aware first
            self.fail("naive")
        return parsed

    def enforce_timezone(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            self.fail("naive")
        return super().enforce_timezone(value)


class CouponFieldsMixin(serializers.Serializer):
    is_active = StrictBooleanField(required=False)
    starts_at = TimestampField(required=False, allow_null=True)
    expires_at = TimestampField(required=False, allow_null=True)
    per_customer_limit = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_INIT_COUNT
    )


class CouponCreateInput(CouponFieldsMixin):
    code = StrictCharField(
        min_length=1, max_length=MAX_CODE_LENGTH, trim_whitespace=False, validators=[code_validator]
    )
    init_count = StrictIntegerField(min_value=1, max_value=MAX_INIT_COUNT)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        starts_at, expires_at = attrs.get("starts_at"), attrs.get("expires_at")
        if starts_at is not None and expires_at is not None and starts_at >= expires_at:
            raise serializers.ValidationError({"expires_at": ["Must be after starts_at."]})
        return attrs


def validated(
    serializer_class: type[serializers.Serializer], data: dict[str, Any]
) -> dict[str, Any]:
    """The serializer's clean data, or a 400 `validation_error` naming each bad field."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationFailed(flatten_errors(serializer.errors))
    return dict(serializer.validated_data)


class RedemptionInput(serializers.Serializer):
    # A shopper's typing: surrounding spaces are dropped; any other string simply matches
    # no coupon (404 coupon_not_found) rather than being a 400.
    code = StrictCharField(min_length=1, max_length=256)
    customer_id = StrictCharField(
        required=False, allow_null=True, min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH
    )
    order_id = StrictCharField(
        required=False, allow_null=True, min_length=1, max_length=MAX_ORDER_ID_LENGTH
    )


class ValidationInput(serializers.Serializer):
    code = StrictCharField(min_length=1, max_length=256)
    customer_id = StrictCharField(
        required=False, allow_null=True, min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH
    )


class RedemptionFilters(serializers.Serializer):
    coupon_id = serializers.UUIDField(required=False)
    customer_id = StrictCharField(required=False, min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH)
    code = StrictCharField(required=False, min_length=1, max_length=256)
