"""The OpenAPI components of the ledger's answers (coupons.shapes) and its pages."""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from core.api.schema import page_of
from core.api.shapes import serializer_of
from coupons.domain.discounts import TARGETING_FIELDS
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
    """What the serializers cannot say themselves: an answer's discount shows its targeting
    fields, an order needs its `amount` or its `lines` (contract, third part; a schema-valid
    order was refused: found by schemathesis), a validation takes `code` or `codes`, and
    answers one code's result or several codes'.

    The two body rules are stated with `not`, which validators (schemathesis) apply and
    client generators leave alone: as a `oneOf` or `anyOf` beside `properties`,
    openapi-python-client 0.29 read the whole body as a union and dropped its model (the
    order's three operations were missing from the client, the validation took `Any`)."""
    schemas = result.get("components", {}).get("schemas", {})
    discount, given = schemas.get("Discount"), schemas.get("DiscountInput")
    if discount is not None and given is not None:
        # An answer's discount (coupons.domain.discounts.discount_json) shows the targeting
        # fields that are set, as they were given, and `combines_with` always.
        # Open, as answers are (a client reads keys added later; an input refuses them).
        for name in TARGETING_FIELDS:
            discount["properties"][name] = _opened(copy.deepcopy(given["properties"][name]))
        discount["required"] = sorted({*discount.get("required", []), "combines_with"})
    if "ValidationAnswer" in schemas:
        schemas["ValidationAnswer"]["description"] = (
            "One code's result (`code` sent), or several codes' together (`codes` sent)."
        )
    if "ValidationInput" in schemas:  # `code` or `codes`, not both: a body is needed
        schemas["ValidationInput"]["not"] = {
            "anyOf": [
                {"required": ["code", "codes"]},
                {"not": {"anyOf": [{"required": ["code"]}, {"required": ["codes"]}]}},
            ]
        }
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
    if order is not None:  # not (no amount and no list of lines)
        order["not"] = {
            "allOf": [
                {"not": {"required": ["amount"]}},
                {"not": {"required": ["lines"], "properties": {"lines": {"type": "array"}}}},
            ]
        }
    return result


def _opened(schema: Any) -> Any:
    """`schema` without its `additionalProperties: false`, at every depth."""
    if isinstance(schema, dict):
        if schema.get("additionalProperties") is False:
            del schema["additionalProperties"]
        for value in schema.values():
            _opened(value)
    elif isinstance(schema, list):
        for value in schema:
            _opened(value)
    return schema
