"""A redemption's and a revert's side of a code's campaign: its capacity, its budget and a
customer's limit across its codes, taken in the transaction that spends the code's use.

Lock order, the same on every path, reverts included: redemption row, then coupon row,
then campaign row, then the customer's counter row in the campaign. A redemption locks
its coupon row (the UPDATE of remaining_count), then the campaign row
(`spend_campaign_use`), then the customer's counter (`take_customer_slot`), and inserts
its new redemption row, which nobody else can see, let alone lock, before the commit. A
revert locks the redemption row (the stamp), then its coupon row, then the campaign row,
then the counter. Deleting a campaign deletes its coupon rows before the campaign row
(its counters go with it); a campaign's PATCH locks only the campaign row; a coupon's
PATCH only the coupon row. Every transaction takes its locks in that one order, so no two
of them can wait on each other in a cycle. (The campaign row's lock alone would already
serialize a campaign's redemptions; the order is what keeps reverts and deletes from
deadlocking with them.)
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import F

from core.errors import (
    CustomerIdRequired,
    CustomerLimitReached,
    DomainError,
)
from coupons.db import campaign_sql, raw
from coupons.domain.carts import Priced, price_order
from coupons.domain.discounts import Order
from coupons.domain.rules import campaign_refusal_for
from coupons.models.campaign import Campaign, CampaignCustomer


def live_campaign_redemptions_of(campaign_id: uuid.UUID, customer_id: str) -> int:
    """A customer's live redemptions across all the campaign's codes, as counted."""
    counted = (
        CampaignCustomer.objects.filter(campaign_id=campaign_id, customer_id=customer_id)
        .values_list("live_count", flat=True)
        .first()
    )
    return counted or 0


def _limit_reached(customer_id: str, limit: int | None) -> CustomerLimitReached:
    return CustomerLimitReached(
        f"Customer {customer_id!r} already holds {limit} redemption(s) of this campaign's codes."
    )


def campaign_limit_refusal(
    campaign_id: uuid.UUID, *, limit: int | None, customer_id: str | None, expired: int = 0
) -> CustomerLimitReached | None:
    """Whether the customer already holds the campaign's limit (a validation's question;
    a redemption takes the slot with `take_customer_slot` instead), less `expired` holds
    of theirs that still count but would be returned first."""
    if limit is None or not customer_id:
        return None
    if live_campaign_redemptions_of(campaign_id, customer_id) - expired >= limit:
        return _limit_reached(customer_id, limit)
    return None


def take_customer_slot(
    campaign_id: uuid.UUID, *, customer_id: str | None, limit: int | None
) -> None:
    """Step 6's campaign half, inside the redemption's transaction (after the campaign's
    row, in the lock order): one more live redemption of the customer across the
    campaign's codes, by a conditional upsert whose row count decides; raises
    customer_limit_reached for the caller to roll back."""
    if customer_id and not campaign_sql.take_customer_slot(
        campaign_id=campaign_id, customer_id=customer_id, limit=limit
    ):
        raise _limit_reached(customer_id, limit)


def take_campaign_use(
    campaign_id: uuid.UUID,
    *,
    customer_id: str | None,
    order: Order | None,
    now: datetime,
    hold: bool = False,
) -> tuple[Priced | None, int | None]:
    """Take one use of the campaign's capacity and this order's discount from its budget,
    inside the caller's transaction, which already holds the code's coupon row: what the
    order takes (None: the campaign has no discount, or no order was sent) and the
    campaign's per-customer limit, which the caller checks once the coupon's own is
    (step 6). Raises the refusal (steps 1, 3 to 5 of coupons.domain.rules) for the caller
    to roll back."""
    if raw.is_postgres() and (order is None or order.is_plain):
        # One statement for an order priced as one amount by a discount without
        # targeting (the SQL's discount expression is pinned to discount_for).
        spent = campaign_sql.spend_campaign_use(
            campaign_id=campaign_id, customer_id=customer_id, now=now,
            order_amount=order and order.amount, currency=order and order.currency, hold=hold,
        )  # fmt: skip
        if spent is not None:
            off = spent.discount_amount
            return (None if off is None else Priced(off)), spent.per_customer_limit
    # Otherwise (lines, shipping, targeting, a refusal, or SQLite): the campaign row locked
    # second, after the coupon row (the lock order), then checked and priced by the
    # domain, and updated under that lock. A refusal of the statement above is decided
    # here on the row as committed last. SQLite has one writer at a time, and the caller's
    # UPDATE of the coupon row already made this transaction the writer.
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    refusal = _refusal(campaign, customer_id=customer_id, order=order, now=now)
    if refusal is not None:
        raise refusal
    discount = campaign.discount
    priced = None if discount is None or order is None else price_order(discount, order)
    off = 0 if priced is None else priced.discount_amount
    counter = "held_count" if hold else "redemption_count"
    Campaign.objects.filter(pk=campaign_id).update(
        **{counter: F(counter) + 1}, discount_total=F("discount_total") + off, updated_at=now
    )
    return priced, campaign.per_customer_limit


def _refusal(
    campaign: Campaign, *, customer_id: str | None, order: Order | None, now: datetime
) -> DomainError | None:
    if campaign.per_customer_limit is not None and not customer_id:
        return CustomerIdRequired()
    return campaign_refusal_for(campaign, now=now, order=order, order_required=True)


def give_back_campaign_use(
    campaign_id: uuid.UUID,
    *,
    discount_amount: int | None,
    customer_id: str | None,
    now: datetime,
) -> None:
    """A revert's side, inside its transaction (which holds the redemption and coupon
    rows): the capacity and the discount return to the campaign, then the customer's
    slot, in the lock order."""
    Campaign.objects.filter(pk=campaign_id).update(
        redemption_count=F("redemption_count") - 1,
        discount_total=F("discount_total") - (discount_amount or 0),
        updated_at=now,
    )
    if customer_id:
        CampaignCustomer.objects.filter(campaign_id=campaign_id, customer_id=customer_id).update(
            live_count=F("live_count") - 1
        )
