"""The ledger's events, written in the transaction of their change (events.services.outbox):
a coupon's or campaign's event holds the object as it is now, and a use that was taken can
exhaust a coupon or a campaign's budget."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Count, F

from coupons.db import raw
from coupons.models import Campaign, Coupon
from coupons.shapes import CAMPAIGN, COUPON
from events.services.outbox import record


def record_coupon(type_: str, coupon_id: uuid.UUID, *, now: datetime | None = None) -> Coupon:
    """The coupon's event, read as it is now in the caller's transaction."""
    coupon = raw.one_coupon(coupon_id=coupon_id)
    assert coupon is not None, coupon_id  # the caller's transaction changed it
    record(type_, COUPON, coupon, now=now)
    return coupon


def with_coupon_count(campaign_id: uuid.UUID) -> Campaign | None:
    return Campaign.objects.annotate(coupon_count=Count("coupons")).filter(pk=campaign_id).first()


def record_campaign(type_: str, campaign_id: uuid.UUID, *, now: datetime | None = None) -> None:
    """The campaign's event, read as it is now in the caller's transaction."""
    campaign = with_coupon_count(campaign_id)
    assert campaign is not None, campaign_id
    record(type_, CAMPAIGN, campaign, now=now)


def record_use_taken(
    *,
    coupon_id: uuid.UUID,
    campaign_id: uuid.UUID | None,
    remaining_count: int,
    discount_amount: int | None,
    now: datetime,
) -> None:
    """After a redemption or a hold took a use, in its transaction: `coupon.exhausted`
    when it took the coupon's last use, `campaign.budget_exhausted` when its discount
    left the coupon's campaign no budget (`budget_remaining` 0; it was more before, as
    this discount was taken from it)."""
    if remaining_count == 0:
        record_coupon("coupon.exhausted", coupon_id, now=now)
    # Only a use with a discount, of a code of a campaign, can move a budget: one
    # primary-key read then, none otherwise.
    if discount_amount and campaign_id is not None:
        spent = Campaign.objects.filter(pk=campaign_id, discount_total=F("budget_amount"))
        if spent.exists():
            record_campaign("campaign.budget_exhausted", campaign_id, now=now)
