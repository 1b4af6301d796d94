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
    BudgetExhausted,
    CampaignExhausted,
    CustomerIdRequired,
    CustomerLimitReached,
    DomainError,
)
from coupons.db import campaign_sql, raw
from coupons.db.campaign_sql import CampaignSpent
from coupons.domain.discounts import Order, discount_for
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
) -> CampaignSpent:
    """Take one use of the campaign's capacity and this order's discount from its budget,
    inside the caller's transaction, which already holds the code's coupon row: the
    discount the order takes (None: the campaign has no discount) and the campaign's
    per-customer limit, which the caller checks once the coupon's own is (step 6). Raises
    the refusal (steps 1, 3 to 5 of coupons.domain.rules) for the caller to roll back."""
    if raw.is_postgres():
        spent = campaign_sql.spend_campaign_use(
            campaign_id=campaign_id, customer_id=customer_id, now=now,
            order_amount=order and order.amount, currency=order and order.currency, hold=hold,
        )  # fmt: skip
        if spent is None:
            raise _why_the_campaign_refused(
                campaign_id, customer_id=customer_id, order=order, now=now
            )
        return spent
    # SQLite (development): one writer at a time, and the caller's UPDATE of the coupon
    # row already made this transaction the writer, so a read then an update is safe.
    campaign = Campaign.objects.get(pk=campaign_id)
    refusal = _refusal(campaign, customer_id=customer_id, order=order, now=now)
    if refusal is not None:
        raise refusal
    discount = campaign.discount
    off = (
        None
        if discount is None or order is None
        else discount_for(discount, order_amount=order.amount)
    )
    counter = "held_count" if hold else "redemption_count"
    Campaign.objects.filter(pk=campaign_id).update(
        **{counter: F(counter) + 1},
        discount_total=F("discount_total") + (off or 0),
        updated_at=now,
    )
    return CampaignSpent(off, campaign.per_customer_limit)


def _refusal(
    campaign: Campaign, *, customer_id: str | None, order: Order | None, now: datetime
) -> DomainError | None:
    if campaign.per_customer_limit is not None and not customer_id:
        return CustomerIdRequired()
    return campaign_refusal_for(campaign, now=now, order=order, order_required=True)


def _why_the_campaign_refused(
    campaign_id: uuid.UUID, *, customer_id: str | None, order: Order | None, now: datetime
) -> DomainError:
    campaign = Campaign.objects.get(pk=campaign_id)
    refusal = _refusal(campaign, customer_id=customer_id, order=order, now=now)
    if refusal is not None:
        return refusal
    # A use or budget given back between the UPDATE and this read: at the moment of the
    # UPDATE, the campaign was full.
    return BudgetExhausted() if campaign.budget_amount is not None else CampaignExhausted()


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
