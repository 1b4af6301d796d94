"""The OpenAPI components of the ledger's answers (coupons.shapes) and its pages."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from core.api.schema import page_of
from core.api.shapes import serializer_of
from coupons.shapes import (
    CODES_VALIDATION,
    COUPON,
    REDEMPTION,
    REDEMPTION_GROUP,
    RESERVATION,
    VALIDATION,
)

CouponOut = serializer_of(COUPON)
RedemptionOut = serializer_of(REDEMPTION)
ValidationOut = serializer_of(VALIDATION)
ReservationOut = serializer_of(RESERVATION)
CodesValidationOut = serializer_of(CODES_VALIDATION)
RedemptionGroupOut = serializer_of(REDEMPTION_GROUP)


@extend_schema_serializer(component_name="Batch")
class BatchOut(serializers.Serializer):
    created = serializers.IntegerField()
    codes = serializers.ListField(child=serializers.CharField())


CouponPage = page_of(CouponOut, "CouponPage")
RedemptionPage = page_of(RedemptionOut, "RedemptionPage")
