"""Input of a code's use: a redemption, a revert, a validation, a hold, and several codes
on one order. JSON types checked strictly, no database access."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.fields import (
    InputSerializer,
    StrictIntegerField,
    StrictUUIDField,
)
from core.api.money_fields import (
    MetadataField,
)
from coupons.api.serializers import OrderInput, TextField
from coupons.domain.limits import (
    MAX_CODES,
    MAX_CUSTOMER_ID_LENGTH,
    MAX_LOOKUP_LENGTH,
    MAX_ORDER_ID_LENGTH,
)
from coupons.services.reservations import DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS


class RedemptionInput(InputSerializer):
    """The code a customer typed (letter case ignored), who redeems it and on which
    order; the order is required when the code has a discount."""

    # A shopper's typing: surrounding spaces are dropped; any other string simply matches
    # no coupon (404 coupon_not_found) rather than being a 400.
    code = TextField(min_length=1, max_length=MAX_LOOKUP_LENGTH)
    customer_id = TextField(
        required=False, allow_null=True, min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH
    )
    order_id = TextField(
        required=False, allow_null=True, min_length=1, max_length=MAX_ORDER_ID_LENGTH
    )
    # Required for a coupon with a discount (409 order_required), which is the service's
    # rule: the serializer cannot know the coupon.
    order = OrderInput(required=False, allow_null=True)
    metadata = MetadataField(required=False)


class RevertInput(InputSerializer):
    """A revert takes no fields: an empty body, or `{}`."""


def codes_field(*, required: bool = True) -> serializers.ListField:
    """1 to MAX_CODES codes, distinct ignoring case (checked by `check_distinct`)."""
    return serializers.ListField(
        child=TextField(min_length=1, max_length=MAX_LOOKUP_LENGTH),
        min_length=1,
        max_length=MAX_CODES,
        allow_empty=False,
        required=required,
    )


def check_distinct(codes: list[str]) -> None:
    if len({code.upper() for code in codes}) != len(codes):
        raise serializers.ValidationError({"codes": ["Must be distinct, ignoring case."]})


class ValidationInput(InputSerializer):
    """The code to check, or the codes used together on one order (one of the two), and
    optionally the customer and the order to price."""

    # One `code`, or several `codes` on one order (coupons.domain.stacking): not both.
    code = TextField(required=False, min_length=1, max_length=MAX_LOOKUP_LENGTH)
    codes = codes_field(required=False)
    customer_id = TextField(
        required=False, allow_null=True, min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH
    )
    # Optional: without it, the answer computes no amount.
    order = OrderInput(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("code" in attrs) == ("codes" in attrs):
            message = (
                "Send either code or codes, not both."
                if "code" in attrs
                else ("Send code or codes.")
            )
            raise serializers.ValidationError({"code": [message], "codes": [message]})
        if "codes" in attrs:
            check_distinct(attrs["codes"])
        return attrs


class RedemptionGroupInput(InputSerializer):
    """Several codes to redeem together on one order, by one customer."""

    codes = codes_field()
    customer_id = TextField(
        required=False, allow_null=True, min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH
    )
    order_id = TextField(
        required=False, allow_null=True, min_length=1, max_length=MAX_ORDER_ID_LENGTH
    )
    order = OrderInput(required=False, allow_null=True)
    metadata = MetadataField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_distinct(attrs["codes"])
        return attrs


class RedemptionFilters(InputSerializer):
    coupon_id = StrictUUIDField(required=False)
    customer_id = TextField(required=False, min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH)
    code = TextField(required=False, min_length=1, max_length=MAX_LOOKUP_LENGTH)


class ReservationInput(RedemptionInput):
    """As a redemption, and how long to hold the use (`ttl_seconds`)."""

    ttl_seconds = StrictIntegerField(
        required=False, min_value=1, max_value=MAX_TTL_SECONDS, default=DEFAULT_TTL_SECONDS
    )


class ReservationGroupInput(RedemptionGroupInput):
    """As a redemption group, and how long to hold the uses (`ttl_seconds`)."""

    ttl_seconds = StrictIntegerField(
        required=False, min_value=1, max_value=MAX_TTL_SECONDS, default=DEFAULT_TTL_SECONDS
    )
