"""What makes a coupon redeemable at a moment, in the order clients are told why not.

`refusal_for` is the definition. The SQL that spends a use (coupons.db.raw) and the
`Coupon.objects.redeemable()` filter restate it for the database; tests/test_redeemable_rule.py
pins both to this function over every edge of the window and the counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from coupons.errors import (
    CouponExhausted,
    CouponExpired,
    CouponInactive,
    CouponNotStarted,
    CustomerIdRequired,
    DomainError,
)


class Spendable(Protocol):
    is_active: bool
    starts_at: datetime | None
    expires_at: datetime | None
    remaining_count: int
    per_customer_limit: int | None


def refusal_for(coupon: Spendable, *, now: datetime, customer_id: str | None) -> DomainError | None:
    """Why `coupon` cannot be spent at `now`; None if it can. The per-customer count is
    checked by the caller: it needs the customer's live redemptions."""
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
    return None
