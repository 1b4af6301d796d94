"""The ledger's shapes (coupons, campaigns, redemptions, holds, validations), each declared
once for the API's answers, the events' `data` and the OpenAPI document (core.shaping)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.shaping import Out, Shape
from coupons.domain.discounts import Discount, discount_json
from coupons.domain.writable import CAMPAIGN_FIELDS, COUPON_FIELDS, Kind, Writable


def _discount(value: Discount | None) -> dict[str, Any] | None:
    return None if value is None else discount_json(value)


def discount_out(**options: Any) -> Out:
    return Out("discount", encode=_discount, **options)


# An answer's field for each kind of coupons.domain.writable (its help, the field's).
_OUT: dict[Kind, Callable[[Writable], Out]] = {
    Kind.CODE: lambda f: Out("string", help=f.help),
    Kind.NAME: lambda f: Out("string", help=f.help),
    Kind.TEXT: lambda f: Out("string", help=f.help),
    Kind.COUNT: lambda f: Out("integer", minimum=1, help=f.help),
    Kind.LIMIT: lambda f: Out("integer", nullable=True, minimum=1, help=f.help),
    Kind.FLAG: lambda f: Out("boolean", help=f.help),
    Kind.MOMENT: lambda f: Out("datetime", nullable=True, help=f.help),
    Kind.DISCOUNT: lambda f: discount_out(nullable=True, help=f.help),
    Kind.BUDGET: lambda f: Out("money", nullable=True, help=f.help),
    Kind.METADATA: lambda f: Out("metadata", help=f.help),
    Kind.CAMPAIGN: lambda f: Out("uuid", nullable=True, help=f.help),
}


def writable_outs(fields: tuple[Writable, ...]) -> dict[str, Out]:
    return {field.name: _OUT[field.kind](field) for field in fields}


COUPON = Shape(
    "Coupon",
    id=Out("uuid"),
    **writable_outs(COUPON_FIELDS),
    remaining_count=Out("integer", minimum=0),
    held_count=Out("integer", minimum=0, help="Uses held by live reservations (counted as used)."),
    created_at=Out("datetime"),
    updated_at=Out("datetime"),
)

REDEMPTION = Shape(
    "Redemption",
    id=Out("uuid"),
    coupon_id=Out("uuid"),
    code=Out("string"),
    customer_id=Out("string", nullable=True),
    order_id=Out("string", nullable=True),
    remaining_count=Out(
        "integer", minimum=0, help="The coupon's remaining uses right after this redemption."
    ),
    redeemed_at=Out("datetime"),
    reverted_at=Out("datetime", nullable=True),
    order_amount=Out("integer", nullable=True, minimum=0, help="The order's amount, if sent."),
    currency=Out("string", nullable=True, help="The order's currency, if sent."),
    discount_amount=Out(
        "integer", nullable=True, minimum=0, help="null for a coupon without a discount."
    ),
    metadata=Out("metadata"),
    order=Out(
        "object",
        nullable=True,
        help="The order as priced: currency, amount, lines (every field, defaults "
        "included; null without lines), shipping_amount. null when none was sent.",
    ),
    allocations=Out(
        "object",
        nullable=True,
        help="Per line of the order, in order: {line_id, amount, units: [{quantity, "
        "amount_each}]}; null for an order without lines.",
    ),
    shipping_discount_amount=Out(
        "integer",
        nullable=True,
        minimum=0,
        help="The discount's part off shipping_amount (included in discount_amount).",
    ),
    group_id=Out(
        "uuid", nullable=True, help="Its redemption group (several codes on one order), if any."
    ),
)

RESERVATION = Shape(
    "Reservation",
    id=Out("uuid"),
    coupon_id=Out("uuid"),
    code=Out("string"),
    customer_id=Out("string", nullable=True),
    order_id=Out("string", nullable=True),
    order_amount=Out("integer", nullable=True, minimum=0, help="The order's amount, if sent."),
    currency=Out("string", nullable=True, help="The order's currency, if sent."),
    discount_amount=Out(
        "integer", nullable=True, minimum=0, help="null for a coupon without a discount."
    ),
    status=Out("string", help="held, confirmed, released or expired."),
    expires_at=Out("datetime"),
    created_at=Out("datetime"),
    redemption_id=Out("uuid", nullable=True, help="Its redemption, once confirmed."),
    metadata=Out("metadata"),
    order=Out(
        "object",
        nullable=True,
        help="The order as priced: currency, amount, lines (every field, defaults "
        "included; null without lines), shipping_amount. null when none was sent.",
    ),
    allocations=Out(
        "object",
        nullable=True,
        help="Per line of the order, in order: {line_id, amount, units: [{quantity, "
        "amount_each}]}; null for an order without lines.",
    ),
    shipping_discount_amount=Out(
        "integer",
        nullable=True,
        minimum=0,
        help="The discount's part off shipping_amount (included in discount_amount).",
    ),
)

VALIDATION = Shape(
    "ValidationResult",
    valid=Out("boolean"),
    reason=Out("string", nullable=True, help="An error code, or null if valid."),
    remaining_count=Out("integer", nullable=True),
    discount_amount=Out(
        "integer", nullable=True, minimum=0, help="With an order, on a valid code's discount."
    ),
    amount_after_discount=Out("integer", nullable=True, minimum=0),
    currency=Out("string", nullable=True, help="The order's currency, when amounts are given."),
    details=Out(
        "details",
        nullable=True,
        help="currency_mismatch, min_order_amount_not_met and min_quantity_not_met only.",
    ),
    allocations=Out(
        "object",
        nullable=True,
        help="Per line of the order, in order: {line_id, amount, units: [{quantity, "
        "amount_each}]}; null for an order without lines or when no amount was computed.",
    ),
    shipping_discount_amount=Out(
        "integer",
        nullable=True,
        minimum=0,
        help="The discount's part off shipping_amount (included in discount_amount).",
    ),
    shipping_amount_after_discount=Out(
        "integer", nullable=True, minimum=0, help="null when no shipping_amount was sent."
    ),
)

CAMPAIGN = Shape(
    "Campaign",
    id=Out("uuid"),
    **writable_outs(CAMPAIGN_FIELDS),
    redemption_count=Out("integer", minimum=0, help="Live redemptions of its codes."),
    held_count=Out("integer", minimum=0),
    discount_total=Out("integer", minimum=0, help="The discounts of its live redemptions."),
    budget_remaining=Out("integer", nullable=True, minimum=0),
    coupon_count=Out("integer", minimum=0),
    created_at=Out("datetime"),
    updated_at=Out("datetime"),
)

CODE_RESULT = Shape(
    "CodeResult",
    code=Out("string"),
    valid=Out("boolean"),
    reason=Out("string", nullable=True, help="An error code, not_combinable, or null."),
    details=Out("details", nullable=True),
    discount_amount=Out("integer", nullable=True, minimum=0),
    shipping_discount_amount=Out("integer", nullable=True, minimum=0),
    allocations=Out("object", nullable=True),
)

CODES_VALIDATION = Shape(
    "CodesValidationResult",
    valid=Out("boolean", help="Every code is valid and they combine."),
    reason=Out("string", nullable=True, help="The first refused code's reason, or not_combinable."),
    details=Out("details", nullable=True),
    discount_amount=Out("integer", nullable=True, minimum=0),
    amount_after_discount=Out("integer", nullable=True, minimum=0),
    shipping_discount_amount=Out("integer", nullable=True, minimum=0),
    shipping_amount_after_discount=Out("integer", nullable=True, minimum=0),
    currency=Out("string", nullable=True),
    allocations=Out("object", nullable=True),
    results=Out(
        "object",
        encode=lambda results: [CODE_RESULT(r) for r in results],
        help="One per code, in the order they were applied.",
    ),
)

REDEMPTION_GROUP = Shape(
    "RedemptionGroup",
    id=Out("uuid"),
    codes=Out("strings", help="As sent."),
    customer_id=Out("string", nullable=True),
    order_id=Out("string", nullable=True),
    order=Out("object", nullable=True),
    discount_amount=Out("integer", nullable=True, minimum=0),
    amount_after_discount=Out("integer", nullable=True, minimum=0),
    shipping_discount_amount=Out("integer", nullable=True, minimum=0),
    shipping_amount_after_discount=Out("integer", nullable=True, minimum=0),
    currency=Out("string", nullable=True),
    allocations=Out("object", nullable=True),
    redemptions=Out(
        "object",
        encode=lambda members: [REDEMPTION(r) for r in members],
        help="One per code, in the order they were applied, each with group_id.",
    ),
    created_at=Out("datetime"),
)
