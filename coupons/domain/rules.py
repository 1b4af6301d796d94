"""What makes a coupon redeemable at a moment, for an order, in the order clients are told
why not.

`refusal_for` is the definition. Its order, first refusal wins:

1. `customer_id_required` (400): the coupon has a per-customer limit and none was sent;
2. `coupon_inactive`, `coupon_not_started`, `coupon_expired`, `coupon_exhausted` (409):
   the coupon itself;
3. `order_required` (400, redemptions only), `currency_mismatch`,
   `min_order_amount_not_met` (409, with `details`): the order, for a coupon with a
   discount;
4. `customer_limit_reached` (409): checked by the caller, as it needs the customer's live
   redemptions.

The SQL that spends a use (coupons.db.raw: `REDEEMABLE_SQL`, `ORDER_FITS_SQL`) and the
`Coupon.objects.redeemable()` filter restate it for the database;
tests/test_redeemable_rule.py pins them to this module over every edge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from coupons.domain.discounts import (
    CURRENCY_MISMATCH,
    Discount,
    Order,
    order_refusal,
)
from coupons.errors import (
    CouponExhausted,
    CouponExpired,
    CouponInactive,
    CouponNotStarted,
    CurrencyMismatch,
    CustomerIdRequired,
    DomainError,
    MinOrderAmountNotMet,
    OrderRequired,
)


class Spendable(Protocol):
    is_active: bool
    starts_at: datetime | None
    expires_at: datetime | None
    remaining_count: int
    per_customer_limit: int | None

    @property
    def discount(self) -> Discount | None: ...


def order_refusal_for(
    discount: Discount | None, *, order: Order | None, order_required: bool
) -> DomainError | None:
    """Step 3 alone: why `order` cannot take `discount`; None if it can, or if the coupon
    has no discount (any order, or none, fits a code that only counts uses). Without an
    order, a redemption is refused (`order_required`) and a validation is not."""
    if discount is None:
        return None
    if order is None:
        return OrderRequired() if order_required else None
    refusal = order_refusal(discount, order_amount=order.amount, currency=order.currency)
    if refusal is None:
        return None
    if refusal.code == CURRENCY_MISMATCH:
        return CurrencyMismatch(
            f"The discount applies to orders in {discount.currency}, not {order.currency}.",
            details=refusal.details,
        )
    return MinOrderAmountNotMet(
        f"The discount needs an order of at least {discount.min_order_amount} "
        f"(minor units of {discount.currency}).",
        details=refusal.details,
    )


def refusal_for(
    coupon: Spendable,
    *,
    now: datetime,
    customer_id: str | None,
    order: Order | None = None,
    order_required: bool = False,
) -> DomainError | None:
    """Why `coupon` cannot be spent at `now` on `order`; None if it can (steps 1 to 3
    above). The per-customer count is checked by the caller."""
    if coupon.per_customer_limit is not None and not customer_id:
        return CustomerIdRequired()
    if not coupon.is_active:
        return CouponInactive()
    if coupon.starts_at is not None and now < coupon.starts_at:
        return CouponNotStarted(f"The coupon can be used from {coupon.starts_at.isoformat()}.")
    if coupon.expires_at is not None and now >= coupon.expires_at:
        return CouponExpired(f"The coupon expired at {coupon.expires_at.isoformat()}.")
    if coupon.remaining_count <= 0:
        return CouponExhausted()
    return order_refusal_for(coupon.discount, order=order, order_required=order_required)
