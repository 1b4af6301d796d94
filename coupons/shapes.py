"""The ledger's shapes (coupons, campaigns, redemptions, holds, validations), each declared
once for the API's answers, the events' `data` and the OpenAPI document (core.shaping)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.errors import (
    BudgetExhausted,
    CampaignExhausted,
    CampaignExpired,
    CampaignInactive,
    CampaignNotStarted,
    CouponExhausted,
    CouponExpired,
    CouponInactive,
    CouponNotFound,
    CouponNotStarted,
    CurrencyMismatch,
    CustomerIdRequired,
    CustomerLimitReached,
    MinOrderAmountNotMet,
    MinQuantityNotMet,
    NoEligibleLines,
    NotCombinable,
    OrderRequired,
)
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


# Why a code cannot be redeemed now (coupons.domain.rules.refusal_for and the customer's
# and campaign's counts), as a validation's `reason`.
REFUSAL_REASONS: tuple[str, ...] = tuple(
    error.code
    for error in (
        CouponNotFound, CustomerIdRequired, CouponInactive, CouponNotStarted, CouponExpired,
        CouponExhausted, CustomerLimitReached, CampaignInactive, CampaignNotStarted,
        CampaignExpired, CampaignExhausted, BudgetExhausted, OrderRequired, NoEligibleLines,
        MinQuantityNotMet, CurrencyMismatch, MinOrderAmountNotMet,
    )
)  # fmt: skip
# Why one of several codes on one order is refused: its own reason, or that it does not
# combine with the others (coupons.services.validations.validate_codes).
STACKED_REASONS: tuple[str, ...] = (*REFUSAL_REASONS, NotCombinable.code)
# coupons.models.ReservationStatus (pinned by a test: shapes do not import models).
RESERVATION_STATUSES: tuple[str, ...] = ("held", "confirmed", "released", "expired")


def _as_stored(value: Any) -> Any:
    return value  # already JSON (coupons.domain.allocation.allocations_json)


# Where a discount went on a cart: the OpenAPI components of allocations_json's items.
ALLOCATION_UNIT = Shape(
    "AllocationUnit",
    doc="Units of a line that were discounted alike.",
    quantity=Out("integer", minimum=1),
    amount_each=Out("integer", minimum=0, help="The discount on each of these units."),
)
ALLOCATION = Shape(
    "Allocation",
    doc="The part of a discount that went to one line of the order, unit by unit.",
    line_id=Out("string", help="The line's id, as sent."),
    amount=Out("integer", minimum=0, help="The discount on this line."),
    units=Out("objects", items=ALLOCATION_UNIT, encode=_as_stored),
)


def allocations_out(*, help: str = "") -> Out:
    return Out("objects", nullable=True, items=ALLOCATION, encode=_as_stored, help=help)


# A redemption's and a hold's order as priced (contract, third part: carts).
_PRICED_ORDER = {
    "order": Out(
        "object",
        nullable=True,
        help="The order as priced: currency, amount, lines (every field, defaults "
        "included; null without lines), shipping_amount. null when none was sent.",
    ),
    "allocations": allocations_out(
        help="One per line of the order, in order; null for an order without lines."
    ),
    "shipping_discount_amount": Out(
        "integer",
        nullable=True,
        minimum=0,
        help="The discount's part off shipping_amount (included in discount_amount).",
    ),
}

COUPON = Shape(
    "Coupon",
    doc="A code and its uses: how many in all, how many left and how many held now.",
    id=Out("uuid"),
    **writable_outs(COUPON_FIELDS),
    remaining_count=Out("integer", minimum=0),
    held_count=Out("integer", minimum=0, help="Uses held by live reservations (counted as used)."),
    created_at=Out("datetime"),
    updated_at=Out("datetime"),
)

REDEMPTION = Shape(
    "Redemption",
    doc="One use of a coupon, by a customer on an order, with the discount it gave.",
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
    currency=Out("currency", nullable=True, help="The order's currency, if sent."),
    discount_amount=Out(
        "integer", nullable=True, minimum=0, help="null for a coupon without a discount."
    ),
    metadata=Out("metadata"),
    **_PRICED_ORDER,
    group_id=Out(
        "uuid", nullable=True, help="Its redemption group (several codes on one order), if any."
    ),
)

RESERVATION = Shape(
    "Reservation",
    doc="A use held during payment: confirmed into a redemption, released, or expired.",
    id=Out("uuid"),
    coupon_id=Out("uuid"),
    code=Out("string"),
    customer_id=Out("string", nullable=True),
    order_id=Out("string", nullable=True),
    order_amount=Out("integer", nullable=True, minimum=0, help="The order's amount, if sent."),
    currency=Out("currency", nullable=True, help="The order's currency, if sent."),
    discount_amount=Out(
        "integer", nullable=True, minimum=0, help="null for a coupon without a discount."
    ),
    status=Out(
        "string",
        choices=RESERVATION_STATUSES,
        help="held (live until expires_at), confirmed, released or expired.",
    ),
    expires_at=Out("datetime"),
    created_at=Out("datetime"),
    redemption_id=Out("uuid", nullable=True, help="Its redemption, once confirmed."),
    metadata=Out("metadata"),
    **_PRICED_ORDER,
    group_id=Out(
        "uuid", nullable=True, help="Its reservation group (several codes on one order), if any."
    ),
)

VALIDATION = Shape(
    "ValidationResult",
    doc="Whether a code would redeem now, and with an order what its discount would be.",
    valid=Out("boolean"),
    reason=Out(
        "string",
        nullable=True,
        choices=REFUSAL_REASONS,
        help="Why not: the code of the problem a redemption would answer; null if valid.",
    ),
    remaining_count=Out("integer", nullable=True),
    discount_amount=Out(
        "integer", nullable=True, minimum=0, help="With an order, on a valid code's discount."
    ),
    amount_after_discount=Out("integer", nullable=True, minimum=0),
    currency=Out("currency", nullable=True, help="The order's currency, when amounts are given."),
    details=Out(
        "details",
        nullable=True,
        help="currency_mismatch, min_order_amount_not_met and min_quantity_not_met only.",
    ),
    allocations=allocations_out(
        help="One per line of the order, in order; null for an order without lines or when "
        "no amount was computed."
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
    doc="Codes grouped under one discount, window, limits and budget.",
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
    doc="One code of several on one order: whether it applies, and what it takes.",
    code=Out("string"),
    valid=Out("boolean"),
    reason=Out(
        "string",
        nullable=True,
        choices=STACKED_REASONS,
        help="Why the code is refused: its reason, or not_combinable; null if valid.",
    ),
    details=Out("details", nullable=True),
    discount_amount=Out("integer", nullable=True, minimum=0),
    shipping_discount_amount=Out("integer", nullable=True, minimum=0),
    allocations=allocations_out(),
)

# Several codes' combined answer on one order (a validation's and a redemption group's).
_STACKED_ORDER = {
    "discount_amount": Out("integer", nullable=True, minimum=0),
    "amount_after_discount": Out("integer", nullable=True, minimum=0),
    "shipping_discount_amount": Out("integer", nullable=True, minimum=0),
    "shipping_amount_after_discount": Out("integer", nullable=True, minimum=0),
    "currency": Out(
        "currency", nullable=True, help="The order's currency, when amounts are given."
    ),
    "allocations": allocations_out(help="One per line of the order, in order, all codes together."),
}

CODES_VALIDATION = Shape(
    "CodesValidationResult",
    doc="Several codes checked together on one order: the combined answer and each code's.",
    valid=Out("boolean", help="Every code is valid and they combine."),
    reason=Out(
        "string",
        nullable=True,
        choices=STACKED_REASONS,
        help="The first refused code's reason, or not_combinable; null if all are valid.",
    ),
    details=Out("details", nullable=True),
    **_STACKED_ORDER,
    results=Out(
        "objects",
        items=CODE_RESULT,
        help="One per code, in the order they were applied.",
    ),
)

REDEMPTION_GROUP = Shape(
    "RedemptionGroup",
    doc="Several codes redeemed together on one order, all or none, and their members.",
    id=Out("uuid"),
    codes=Out("strings", help="As sent."),
    customer_id=Out("string", nullable=True),
    order_id=Out("string", nullable=True),
    order=Out("object", nullable=True),
    **_STACKED_ORDER,
    redemptions=Out(
        "objects",
        items=REDEMPTION,
        help="One per code, in the order they were applied, each with group_id.",
    ),
    created_at=Out("datetime"),
)

RESERVATION_GROUP = Shape(
    "ReservationGroup",
    doc="Several codes held together on one order during payment, all or none, and their "
    "member holds: confirmed into one redemption group, or released, together.",
    id=Out("uuid"),
    codes=Out("strings", help="As sent."),
    customer_id=Out("string", nullable=True),
    order_id=Out("string", nullable=True),
    order=Out("object", nullable=True),
    **_STACKED_ORDER,
    status=Out(
        "string",
        choices=RESERVATION_STATUSES,
        help="held (live until expires_at), confirmed, released or expired.",
    ),
    expires_at=Out("datetime"),
    redemption_group_id=Out(
        "uuid", nullable=True, help="The redemption group it was confirmed into, if it was."
    ),
    reservations=Out(
        "objects",
        items=RESERVATION,
        help="One hold per code, in the order they were applied, each with group_id.",
    ),
    created_at=Out("datetime"),
)
