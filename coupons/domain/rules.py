"""What makes a coupon redeemable at a moment, for an order, in the order clients are told
why not.

`refusal_for` is the definition. Its order, first refusal wins:

1. `customer_id_required` (400): the coupon or its campaign has a per-customer limit and
   none was sent;
2. `coupon_inactive`, `coupon_not_started`, `coupon_expired`, `coupon_exhausted` (409):
   the coupon itself;
3. `campaign_inactive`, `campaign_not_started`, `campaign_expired`, `campaign_exhausted`
   (409): the coupon's campaign, if it has one (`campaign_exhausted`: live redemptions
   plus holds reached `max_redemptions`);
4. `order_required` (400, redemptions only), `lines_required` (400: a discount on some
   products, an order without lines), `currency_mismatch`, `no_eligible_lines`,
   `min_order_amount_not_met`, `min_quantity_not_met` (409, the last two with
   `details`): the order, for a code with a discount (a code of a campaign has the
   campaign's; a campaign with a budget always has a discount, so its codes need an
   order); coupons.domain.carts.order_refusal_of;
5. `budget_exhausted` (409): this order's discount would take the campaign past its
   budget (never a partial discount); only with an order;
6. `customer_limit_reached` (409): checked by the caller, as it needs the customer's live
   redemptions: of the coupon first, then of all the campaign's codes.

The SQL that spends a use (coupons.db.raw: `REDEEMABLE_SQL`, `ORDER_FITS_SQL`; for a
campaign, coupons.db.campaign_sql) and the `Coupon.objects.redeemable()` filter restate
it for the database; tests/coupons/domain/test_redeemable_rule.py pins them to this module
over every edge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.errors import (
    BudgetExhausted,
    CampaignExhausted,
    CampaignExpired,
    CampaignInactive,
    CampaignNotStarted,
    CouponExhausted,
    CouponExpired,
    CouponInactive,
    CouponNotStarted,
    CurrencyMismatch,
    CustomerIdRequired,
    DomainError,
    LinesRequired,
    MinOrderAmountNotMet,
    MinQuantityNotMet,
    NoEligibleLines,
    OrderRequired,
)
from coupons.domain.carts import (
    LINES_REQUIRED,
    MIN_QUANTITY_NOT_MET,
    NO_ELIGIBLE_LINES,
    order_refusal_of,
    price_order,
)
from coupons.domain.discounts import CURRENCY_MISMATCH, Discount, Order


class Spendable(Protocol):
    is_active: bool
    starts_at: datetime | None
    expires_at: datetime | None
    remaining_count: int
    per_customer_limit: int | None

    @property
    def discount(self) -> Discount | None: ...


class CampaignRules(Protocol):
    is_active: bool
    starts_at: datetime | None
    expires_at: datetime | None
    per_customer_limit: int | None
    max_redemptions: int | None
    redemption_count: int
    held_count: int
    budget_amount: int | None
    discount_total: int

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
    refusal = order_refusal_of(discount, order)
    if refusal is None:
        return None
    if refusal.code == LINES_REQUIRED:
        return LinesRequired()
    if refusal.code == NO_ELIGIBLE_LINES:
        return NoEligibleLines()
    if refusal.code == MIN_QUANTITY_NOT_MET:
        return MinQuantityNotMet(
            f"The discount needs {refusal.details['min_quantity']} eligible units.",
            details=refusal.details,
        )
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


def campaign_refusal_for(
    campaign: CampaignRules,
    *,
    now: datetime,
    order: Order | None = None,
    order_required: bool = False,
) -> DomainError | None:
    """Steps 3 to 5 alone, for a code whose own checks passed: the campaign, the order
    against its discount, its budget."""
    if not campaign.is_active:
        return CampaignInactive()
    if campaign.starts_at is not None and now < campaign.starts_at:
        return CampaignNotStarted(f"The campaign starts at {campaign.starts_at.isoformat()}.")
    if campaign.expires_at is not None and now >= campaign.expires_at:
        return CampaignExpired(f"The campaign ended at {campaign.expires_at.isoformat()}.")
    if (
        campaign.max_redemptions is not None
        and campaign.redemption_count + campaign.held_count >= campaign.max_redemptions
    ):
        return CampaignExhausted()
    discount = campaign.discount
    refusal = order_refusal_for(discount, order=order, order_required=order_required)
    if refusal is not None or discount is None or order is None:
        return refusal
    if campaign.budget_amount is not None:
        off = price_order(discount, order).discount_amount
        if campaign.discount_total + off > campaign.budget_amount:
            return BudgetExhausted(
                f"A discount of {off} would take the campaign past its budget "
                f"({campaign.budget_amount - campaign.discount_total} left)."
            )
    return None


def refusal_for(
    coupon: Spendable,
    *,
    now: datetime,
    customer_id: str | None,
    order: Order | None = None,
    order_required: bool = False,
    campaign: CampaignRules | None = None,
) -> DomainError | None:
    """Why `coupon` (of `campaign`, if it has one) cannot be spent at `now` on `order`;
    None if it can (steps 1 to 5 above). The per-customer counts are checked by the
    caller."""
    limited = coupon.per_customer_limit is not None or (
        campaign is not None and campaign.per_customer_limit is not None
    )
    if limited and not customer_id:
        return CustomerIdRequired()
    if not coupon.is_active:
        return CouponInactive()
    if coupon.starts_at is not None and now < coupon.starts_at:
        return CouponNotStarted(f"The coupon can be used from {coupon.starts_at.isoformat()}.")
    if coupon.expires_at is not None and now >= coupon.expires_at:
        return CouponExpired(f"The coupon expired at {coupon.expires_at.isoformat()}.")
    if coupon.remaining_count <= 0:
        return CouponExhausted()
    if campaign is not None:
        return campaign_refusal_for(campaign, now=now, order=order, order_required=order_required)
    return order_refusal_for(coupon.discount, order=order, order_required=order_required)
