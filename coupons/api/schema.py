"""The OpenAPI components of the ledger's answers (coupons.shapes) and its pages."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from core.api.schema import page_of
from core.api.shapes import serializer_of
from coupons.shapes import COUPON, REDEMPTION, RESERVATION, VALIDATION

CouponOut = serializer_of(COUPON)
RedemptionOut = serializer_of(REDEMPTION)
ValidationOut = serializer_of(VALIDATION)
ReservationOut = serializer_of(RESERVATION)


@extend_schema_serializer(component_name="Batch")
class BatchOut(serializers.Serializer):
    """The coupons a batch created: how many, and their codes."""

    created = serializers.IntegerField()
    codes = serializers.ListField(child=serializers.CharField())


CouponPage = page_of(CouponOut, "CouponPage")
RedemptionPage = page_of(RedemptionOut, "RedemptionPage")


def require_amount_or_lines(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An order needs its `amount` or its `lines` (contract, third part); the fields alone
    cannot say "one of these two", so the component says it (a schema-valid order was
    refused: found by schemathesis)."""
    order = result.get("components", {}).get("schemas", {}).get("OrderInput")
    if order is not None:
        order["anyOf"] = [
            {"required": ["amount"]},
            {"required": ["lines"], "properties": {"lines": {"type": "array"}}},
        ]
    return result
