"""Input validation only: JSON types checked strictly, no database access, no business rules.

Responses are shaped by hand in `core.api.shapes` (adrf serializers hop threads per field).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from core.api.fields import (
    FullMatchValidator,
    InputSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictUUIDField,
)
from core.api.money_fields import (
    AmountField,
    CurrencyField,
    MetadataField,
    MetadataPatchField,
    PercentField,
)
from coupons.api.cart_fields import BuyXGetYField, CombinesWithField, LinesField, SelectorField
from coupons.domain.discounts import ALL_DISCOUNT_FIELDS, discount_problems
from coupons.domain.limits import (
    CODE_PATTERN,
    CODE_RULE,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_BATCH,
    MAX_CODE_LENGTH,
    MAX_INIT_COUNT,
    MAX_LOOKUP_LENGTH,
    MAX_PREFIX_LENGTH,
    MAX_RANDOM_LENGTH,
    MIN_RANDOM_LENGTH,
    PREFIX_PATTERN,
    PREFIX_RULE,
    TIMESTAMP_YEARS_RULE,
    timestamp_in_range,
)
from coupons.domain.orders import AMOUNT_SUM_MESSAGE, lines_total
from coupons.domain.writable import COUPON_FIELDS, Kind, Writable, batch_fields, editable

code_validator = FullMatchValidator(CODE_PATTERN, CODE_RULE)

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


@extend_schema_field(
    {
        "type": "string",
        "format": "date-time",
        "pattern": TIMESTAMP_PATTERN,
        "description": f"RFC 3339 with an offset, years {FIRST_YEAR} to {LAST_YEAR} in UTC.",
    }
)
class TimestampField(serializers.DateTimeField):
    """An RFC 3339 timestamp with its offset (a bare local time is ambiguous)."""

    default_error_messages = {
        "invalid": "Must be an RFC 3339 timestamp with an offset, like 2026-11-24T12:00:00Z.",
        "naive": "Give the offset (Z for UTC).",
        "year": TIMESTAMP_YEARS_RULE,
    }

    def to_internal_value(self, value: Any) -> datetime:
        # RFC 3339's own grammar, ASCII digits only, before any parser sees it: Python's and
        # Django's parsers also take other ISO 8601 forms and Unicode digits ("²026" was a 500).
        if not isinstance(value, str) or not RFC_3339.fullmatch(value):
            self.fail("invalid")
        parsed = super().to_internal_value(value.upper())  # t and z are T and Z (RFC 3339)
        if parsed.tzinfo is None:  # pragma: no cover - DRF makes it aware first
            self.fail("naive")
        if not timestamp_in_range(parsed):
            self.fail("year")
        return parsed

    def enforce_timezone(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            self.fail("naive")
        return super().enforce_timezone(value)


class DiscountInput(InputSerializer):
    """What a code is worth: exactly one of `percent_off` and `amount_off`. `currency` is
    required with `amount_off`, `max_amount_off` (percent only) or `min_order_amount`; a
    percent discount without a currency applies to an order in any currency."""

    # Validated data: all five keys, None where not given, ready for Discount(**value).

    percent_off = PercentField(required=False, allow_null=True)
    amount_off = AmountField(required=False, allow_null=True)
    currency = CurrencyField(required=False, allow_null=True)
    max_amount_off = AmountField(required=False, allow_null=True)
    min_order_amount = AmountField(required=False, allow_null=True)
    # Targeting (the contract's third part); their rules are the domain's.
    applies_to = SelectorField(required=False, allow_null=True)
    excludes = SelectorField(required=False, allow_null=True)
    min_quantity = StrictIntegerField(required=False, allow_null=True)
    allocation = serializers.ChoiceField(["across", "each"], required=False, allow_null=True)
    target = serializers.ChoiceField(["lines", "shipping"], required=False, allow_null=True)
    buy_x_get_y = BuyXGetYField(required=False, allow_null=True)
    combines_with = CombinesWithField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        values = {name: attrs.get(name) for name in ALL_DISCOUNT_FIELDS}
        problems = discount_problems(**values)
        if problems:
            raise serializers.ValidationError(problems)
        return values


class OrderInput(InputSerializer):
    """The order a code is used on: its amount in the currency's minor unit, or its lines
    (whose sum the amount then is); shipping apart."""

    amount = AmountField(required=False)
    currency = CurrencyField()
    lines = LinesField(required=False, allow_null=True)
    shipping_amount = AmountField(required=False, allow_null=True)

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # A missing amount is named beside the other fields' errors, not after them.
            if (
                isinstance(data, dict)
                and isinstance(exc.detail, dict)
                and not ("amount" in data or data.get("lines") is not None)
            ):
                exc.detail.setdefault("amount", [ErrorDetail(_AMOUNT_REQUIRED, "required")])
            raise

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return order_with_amount(attrs)


_AMOUNT_REQUIRED = "This field is required (without lines)."


def order_with_amount(attrs: dict[str, Any]) -> dict[str, Any]:
    """Without lines, `amount` is required; with them, it is their sum (sent, it must be)."""
    lines = attrs.get("lines")
    if lines is None:
        if "amount" not in attrs:
            raise serializers.ValidationError({"amount": [_AMOUNT_REQUIRED]})
        return attrs
    total = lines_total(lines)
    if attrs.get("amount", total) != total:
        raise serializers.ValidationError({"amount": [AMOUNT_SUM_MESSAGE.format(total=total)]})
    return {**attrs, "amount": total}


def check_window(attrs: dict[str, Any]) -> None:
    """A validity window given whole must open before it closes (the database's CHECK
    also guards a window completed by an edit)."""
    starts_at, expires_at = attrs.get("starts_at"), attrs.get("expires_at")
    if starts_at is not None and expires_at is not None and starts_at >= expires_at:
        raise serializers.ValidationError({"expires_at": ["Must be after starts_at."]})


class BudgetInput(InputSerializer):
    """At most this much discount in total, in the discount's currency's minor unit."""

    amount = AmountField()
    currency = CurrencyField()


# Where an input is given: on a create, a PATCH (nothing required, create_only fields
# left out), or a batch (per_code fields left out: the codes are drawn).
Mode = Literal["create", "patch", "batch"]


def _required(field: Writable, mode: Mode) -> bool:
    return field.required_on_create and mode != "patch"


def _limit(field: Writable, mode: Mode) -> serializers.Field:
    return StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_INIT_COUNT
    )


def _metadata(field: Writable, mode: Mode) -> serializers.Field:
    # A PATCH merges: a key set to null is removed.
    return MetadataPatchField(required=False) if mode == "patch" else MetadataField(required=False)


# One DRF field per kind of coupons.domain.writable.
_API_FIELD: dict[Kind, Callable[[Writable, Mode], serializers.Field]] = {
    Kind.CODE: lambda f, mode: StrictCharField(
        required=_required(f, mode), min_length=1, max_length=MAX_CODE_LENGTH,
        trim_whitespace=False, validators=[code_validator],
    ),
    Kind.NAME: lambda f, mode: TextField(
        required=_required(f, mode), min_length=1, max_length=f.max_length
    ),
    Kind.TEXT: lambda f, mode: StrictCharField(
        required=False, allow_blank=True, max_length=f.max_length, trim_whitespace=False
    ),
    Kind.COUNT: lambda f, mode: StrictIntegerField(
        required=_required(f, mode), min_value=1, max_value=MAX_INIT_COUNT
    ),
    Kind.LIMIT: _limit,
    Kind.FLAG: lambda f, mode: StrictBooleanField(required=False),
    Kind.MOMENT: lambda f, mode: TimestampField(required=False, allow_null=True),
    # null: a code that only counts uses. On a PATCH, replaced whole (or removed by null)
    # while never redeemed.
    Kind.DISCOUNT: lambda f, mode: DiscountInput(required=False, allow_null=True),
    Kind.BUDGET: lambda f, mode: BudgetInput(required=False, allow_null=True),
    Kind.METADATA: _metadata,
    Kind.CAMPAIGN: lambda f, mode: StrictUUIDField(required=False, allow_null=True),
}  # fmt: skip

_S = TypeVar("_S", bound=type[serializers.Serializer])


def writable_input(fields: Sequence[Writable], mode: Mode) -> Callable[[_S], _S]:
    """The class's fields: those of `fields` that `mode` takes, then its own."""
    taken = {
        "create": fields, "patch": editable(fields), "batch": batch_fields(fields),
    }[mode]  # fmt: skip

    def add(cls: _S) -> _S:
        derived = {field.name: _API_FIELD[field.kind](field, mode) for field in taken}
        cls._declared_fields = {**derived, **cls._declared_fields}
        return cls

    return add


@extend_schema_field(
    {"type": "integer", "description": "Ignored: remaining_count starts at init_count."}
)
class IgnoredField(serializers.Field):
    """Accepted and dropped, as the contract says of `remaining_count` on create."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, write_only=True, allow_null=True, **kwargs)

    def to_internal_value(self, data: Any) -> None:
        return None


@writable_input(COUPON_FIELDS, "create")
class CouponCreateInput(InputSerializer):
    """A new coupon: its code and uses, and optionally a window, a per-customer
    limit, a discount, metadata and a campaign."""

    remaining_count = IgnoredField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.pop("remaining_count", None)
        check_window(attrs)
        return attrs


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
    code = TextField(required=False, min_length=1, max_length=MAX_LOOKUP_LENGTH)
    code_prefix = TextField(required=False, min_length=1, max_length=MAX_CODE_LENGTH)
    is_active = QueryBooleanField(required=False)
    exhausted = QueryBooleanField(required=False)
    campaign_id = StrictUUIDField(required=False)


@writable_input(COUPON_FIELDS, "patch")
class CouponPatchInput(InputSerializer):
    """The fields to change; the others stay as they are. `metadata` is merged
    (a key set to null is removed)."""

    refused = {"code": "Cannot be changed.", "remaining_count": "Read-only: set init_count."}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_window(attrs)
        return attrs


# One schema for "empty or a code's start" (drf-spectacular's allow_blank would emit a
# oneOf that an empty string matches twice, so that "" would be invalid).
@extend_schema_field(
    {
        "type": "string",
        "maxLength": MAX_PREFIX_LENGTH,
        "pattern": PREFIX_PATTERN,
        "default": "",
    }
)
class PrefixField(StrictCharField):
    pass


@writable_input(COUPON_FIELDS, "batch")
class CouponBatchInput(InputSerializer):
    """How many coupons to make, their codes' prefix and random length, and the
    settings they all share."""

    count = StrictIntegerField(min_value=1, max_value=MAX_BATCH)
    prefix = PrefixField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_PREFIX_LENGTH,
        trim_whitespace=False,
        validators=[FullMatchValidator(PREFIX_PATTERN, PREFIX_RULE)],
    )
    length = StrictIntegerField(min_value=MIN_RANDOM_LENGTH, max_value=MAX_RANDOM_LENGTH)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len(attrs["prefix"]) + attrs["length"] > MAX_CODE_LENGTH:
            raise serializers.ValidationError(
                {"length": [f"prefix + length must be at most {MAX_CODE_LENGTH} characters."]}
            )
        check_window(attrs)
        return attrs
