"""The ledger's shapes (coupons, campaigns, redemptions, holds, validations), each declared
once for the API's answers, the events' `data` and the OpenAPI document (core.shaping)."""

from __future__ import annotations

from typing import Any

from core.shaping import Out, Shape
from coupons.domain.discounts import Discount, discount_json


def _discount(value: Discount | None) -> dict[str, Any] | None:
    return None if value is None else discount_json(value)


def discount_out(**options: Any) -> Out:
    return Out("discount", encode=_discount, **options)


COUPON = Shape(
    "Coupon",
    id=Out("uuid"),
    code=Out("string"),
    init_count=Out("integer", minimum=1),
    remaining_count=Out("integer", minimum=0),
    held_count=Out("integer", minimum=0, help="Uses held by live reservations (counted as used)."),
    is_active=Out("boolean"),
    starts_at=Out("datetime", nullable=True),
    expires_at=Out("datetime", nullable=True),
    per_customer_limit=Out("integer", nullable=True, minimum=1),
    created_at=Out("datetime"),
    updated_at=Out("datetime"),
    discount=discount_out(
        nullable=True,
        help="null: a code that only counts uses, or a code of a campaign (the campaign's "
        "discount applies).",
    ),
    metadata=Out("metadata"),
    campaign_id=Out("uuid", nullable=True, help="null: a code of no campaign."),
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
    name=Out("string"),
    is_active=Out("boolean"),
    starts_at=Out("datetime", nullable=True),
    expires_at=Out("datetime", nullable=True),
    discount=discount_out(nullable=True, help="Its codes' discount; null: none."),
    per_customer_limit=Out(
        "integer", nullable=True, minimum=1, help="A customer's live redemptions across its codes."
    ),
    max_redemptions=Out("integer", nullable=True, minimum=1),
    budget=Out("money", nullable=True, help="At most this much discount in total."),
    redemption_count=Out("integer", minimum=0, help="Live redemptions of its codes."),
    held_count=Out("integer", minimum=0),
    discount_total=Out("integer", minimum=0, help="The discounts of its live redemptions."),
    budget_remaining=Out("integer", nullable=True, minimum=0),
    coupon_count=Out("integer", minimum=0),
    metadata=Out("metadata"),
    created_at=Out("datetime"),
    updated_at=Out("datetime"),
)
