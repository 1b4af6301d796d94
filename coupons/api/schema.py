"""The OpenAPI components of the ledger's answers (coupons.shapes) and its pages."""

from __future__ import annotations

from typing import Any

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
    RESERVATION_GROUP,
    VALIDATION,
)

CouponOut = serializer_of(COUPON)
RedemptionOut = serializer_of(REDEMPTION)
ValidationOut = serializer_of(VALIDATION)
ReservationOut = serializer_of(RESERVATION)
CodesValidationOut = serializer_of(CODES_VALIDATION)
RedemptionGroupOut = serializer_of(REDEMPTION_GROUP)
ReservationGroupOut = serializer_of(RESERVATION_GROUP)


@extend_schema_serializer(component_name="Batch")
class BatchOut(serializers.Serializer):
    """The coupons a batch created: how many, and their codes."""

    created = serializers.IntegerField()
    codes = serializers.ListField(child=serializers.CharField())


CouponPage = page_of(CouponOut, "CouponPage")
RedemptionPage = page_of(RedemptionOut, "RedemptionPage")


def state_ledger_rules(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """What the serializers cannot say themselves: an order needs its `amount` or its
    `lines` (contract, third part; a schema-valid order was refused: found by
    schemathesis), a validation takes `code` or `codes`, and answers one code's result or
    several codes'."""
    schemas = result.get("components", {}).get("schemas", {})
    if "ValidationAnswer" in schemas:
        schemas["ValidationAnswer"]["description"] = (
            "One code's result (`code` sent), or several codes' together (`codes` sent)."
        )
    if "ValidationInput" in schemas:  # `code` or `codes`, not both: a body is needed
        schemas["ValidationInput"]["oneOf"] = [{"required": ["code"]}, {"required": ["codes"]}]
        body = result["paths"]["/v1/validations/"]["post"].get("requestBody")
        if body is not None:
            body["required"] = True
    for name in (
        "ValidationInput",
        "RedemptionGroupInput",
        "ReservationGroupInput",
    ):  # codes are distinct
        codes = schemas.get(name, {}).get("properties", {}).get("codes")
        if codes is not None:
            codes["uniqueItems"] = True
    order = schemas.get("OrderInput")
    if order is not None:
        order["anyOf"] = [
            {"required": ["amount"]},
            {"required": ["lines"], "properties": {"lines": {"type": "array"}}},
        ]
    return result
