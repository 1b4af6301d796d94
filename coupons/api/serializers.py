"""Input validation only: JSON types checked strictly, no database access, no business rules.

Responses are shaped by hand in `coupons.api.shapes` (adrf serializers hop threads per field).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from coupons.api.problems import flatten_errors
from coupons.errors import ValidationFailed
from coupons.models import (
    MAX_CODE_LENGTH,
    MAX_CUSTOMER_ID_LENGTH,
    MAX_INIT_COUNT,
    MAX_ORDER_ID_LENGTH,
)


class FullMatchValidator(RegexValidator):
    """A RegexValidator that matches the whole value: with re.search, `$` also matches before
    a final newline, so "NEWLINE\\n" was a code that no (trimmed) lookup could ever find. The
    pattern itself stays ECMA-262 for the OpenAPI document."""

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str) or not re.fullmatch(self.regex, value):
            raise DjangoValidationError(self.message, code=self.code, params={"value": value})


CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
code_validator = FullMatchValidator(
    CODE_PATTERN,
    "Use 1 to 64 of A-Z a-z 0-9 - _, starting with a letter or digit.",
)


UUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


class InputSerializer(serializers.Serializer):
    """A request-input serializer whose fields are built once per class.

    DRF deep-copies every declared field for every serializer instance: ~9% of the
    worker's CPU on POST create coupon in a py-spy profile of `make bench`. Input fields
    keep no per-request state (validation reads their settings and returns values), so
    one bound set serves every instance. What this relies on: these serializers are
    never partial and are given no context (the shared fields' parent is a blank one).
    """

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        shared: BindingDict | None = cls.__dict__.get("_shared_fields")
        if shared is None:
            parent = cls.__new__(cls)
            serializers.Serializer.__init__(parent)
            shared = BindingDict(parent)
            for name, field in parent.get_fields().items():
                shared[name] = field
            cls._shared_fields = shared  # type: ignore[attr-defined]
        return shared


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
        # DRF measures max_length after trimming; the schema (and a client reading it)
        # measures what was sent. Found by schemathesis: 300 characters of which 250 were
        # trailing no-break spaces passed a 256-character limit.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return str(super().to_internal_value(data))


# What DRF's CharField accepts, said as a pattern for the OpenAPI document: some character
# that is not whitespace (surrounding whitespace is trimmed), and no NUL anywhere.
# The whitespace is spelled out (what str.strip() removes), as regex engines differ on \s.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"


class TextField(StrictCharField):
    """Free text (a typed code, a customer or order id), trimmed, never blank."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(RegexValidator(TEXT_PATTERN, "Must not be blank."))


TIMESTAMP_PATTERN = r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2})-"
RFC_3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
FIRST_YEAR, LAST_YEAR = 1970, 9899


@extend_schema_field(
    {
        "type": "string",
        "format": "date-time",
        "pattern": TIMESTAMP_PATTERN,
        "description": f"RFC 3339 with an offset, years {FIRST_YEAR} to {LAST_YEAR}.",
    }
)
class TimestampField(serializers.DateTimeField):
    """An RFC 3339 timestamp with its offset (a bare local time is ambiguous)."""

    default_error_messages = {
        "invalid": "Must be an RFC 3339 timestamp with an offset, like 2026-11-24T12:00:00Z.",
        "naive": "Give the offset (Z for UTC).",
        "year": f"The year must be {FIRST_YEAR} to {LAST_YEAR}.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        # RFC 3339's own grammar, ASCII digits only, before any parser sees it: Python's and
        # Django's parsers also take other ISO 8601 forms and Unicode digits ("²026" was a 500).
        if not isinstance(value, str) or not RFC_3339.fullmatch(value):
            self.fail("invalid")
        if not FIRST_YEAR <= int(value[:4]) <= LAST_YEAR:
            self.fail("year")
        parsed = super().to_internal_value(value.upper())  # t and z are T and Z (RFC 3339)
        if parsed.tzinfo is None:  # pragma: no cover - DRF makes it aware first
            self.fail("naive")
        return parsed

    def enforce_timezone(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            self.fail("naive")
        return super().enforce_timezone(value)


def check_window(attrs: dict[str, Any]) -> None:
    """A validity window given whole must open before it closes (the database's CHECK
    also guards a window completed by an edit)."""
    starts_at, expires_at = attrs.get("starts_at"), attrs.get("expires_at")
    if starts_at is not None and expires_at is not None and starts_at >= expires_at:
        raise serializers.ValidationError({"expires_at": ["Must be after starts_at."]})


class CouponFieldsMixin(InputSerializer):
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
        check_window(attrs)
        return attrs


def validated(
    serializer_class: type[serializers.Serializer], data: dict[str, Any]
) -> dict[str, Any]:
    """The serializer's clean data, or a 400 `validation_error` naming each bad field."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationFailed(flatten_errors(serializer.errors))
    return dict(serializer.validated_data)


class RedemptionInput(InputSerializer):
    # A shopper's typing: surrounding spaces are dropped; any other string simply matches
    # no coupon (404 coupon_not_found) rather than being a 400.
    code = TextField(min_length=1, max_length=256)
    customer_id = TextField(
        required=False, allow_null=True, min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH
    )
    order_id = TextField(
        required=False, allow_null=True, min_length=1, max_length=MAX_ORDER_ID_LENGTH
    )


class ValidationInput(InputSerializer):
    code = TextField(min_length=1, max_length=256)
    customer_id = TextField(
        required=False, allow_null=True, min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH
    )


@extend_schema_field(OpenApiTypes.UUID)
class StrictUUIDField(serializers.UUIDField):
    """A UUID as 8-4-4-4-12 ASCII hex digits (uuid.UUID also takes other digits and forms)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not UUID_PATTERN.fullmatch(data):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class RedemptionFilters(InputSerializer):
    coupon_id = StrictUUIDField(required=False)
    customer_id = TextField(required=False, min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH)
    code = TextField(required=False, min_length=1, max_length=256)


@extend_schema_field(OpenApiTypes.BOOL)
class QueryBooleanField(serializers.Field):
    """`true` or `false` in a query string; anything else is a 400, never ignored."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if data not in ("true", "false"):
            self.fail("invalid")
        return bool(data == "true")

    def to_representation(self, value: bool) -> str:
        return "true" if value else "false"


class CouponFilters(InputSerializer):
    code = TextField(required=False, min_length=1, max_length=256)
    code_prefix = TextField(required=False, min_length=1, max_length=MAX_CODE_LENGTH)
    is_active = QueryBooleanField(required=False)
    exhausted = QueryBooleanField(required=False)


NOT_EDITABLE = ("code", "remaining_count")


class CouponPatchInput(CouponFieldsMixin):
    init_count = StrictIntegerField(required=False, min_value=1, max_value=MAX_INIT_COUNT)

    def to_internal_value(self, data: Any) -> Any:
        # Refused and unknown names are reported with any other field errors, not after.
        refused = {
            name: ["Cannot be changed." if name == "code" else "Read-only: set init_count."]
            for name in NOT_EDITABLE
            if name in data
        }
        refused |= {
            name: ["Unknown field."]
            for name in sorted(set(data) - set(self.fields) - set(NOT_EDITABLE))
        }
        try:
            attrs = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**refused, **exc.detail}) from exc  # type: ignore[dict-item]
        if refused:
            raise serializers.ValidationError(refused)
        return attrs

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_window(attrs)
        return attrs


MAX_BATCH = 10_000
MIN_RANDOM_LENGTH, MAX_RANDOM_LENGTH = 6, 32
PREFIX_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9_-]*)?$"


# One schema for "empty or a code's start" (drf-spectacular's allow_blank would emit a
# oneOf that an empty string matches twice, so that "" would be invalid).
@extend_schema_field(
    {
        "type": "string",
        "maxLength": MAX_CODE_LENGTH - MIN_RANDOM_LENGTH,
        "pattern": PREFIX_PATTERN,
        "default": "",
    }
)
class PrefixField(StrictCharField):
    pass


class CouponBatchInput(CouponFieldsMixin):
    count = StrictIntegerField(min_value=1, max_value=MAX_BATCH)
    init_count = StrictIntegerField(min_value=1, max_value=MAX_INIT_COUNT)
    prefix = PrefixField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_CODE_LENGTH - MIN_RANDOM_LENGTH,
        trim_whitespace=False,
        validators=[
            FullMatchValidator(
                PREFIX_PATTERN, "Use A-Z a-z 0-9 - _, starting with a letter or digit."
            )
        ],
    )
    length = StrictIntegerField(min_value=MIN_RANDOM_LENGTH, max_value=MAX_RANDOM_LENGTH)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len(attrs["prefix"]) + attrs["length"] > MAX_CODE_LENGTH:
            raise serializers.ValidationError(
                {"length": [f"prefix + length must be at most {MAX_CODE_LENGTH} characters."]}
            )
        check_window(attrs)
        return attrs
