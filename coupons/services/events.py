"""The outbox: an event is written inside the unit of work of the change it reports, so
there is no event for a change that rolled back and no change without its event. Its
`data` is encoded by the API's own shape declarations (coupons.shapes), so an event holds
exactly what `GET` of the object answers after the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, F
from django.utils import timezone

from coupons.campaign_models import Campaign
from coupons.db import raw
from coupons.domain.events import EVENT_TYPE_SET
from coupons.event_models import Event
from coupons.models import Coupon
from coupons.shapes import CAMPAIGN, COUPON, Shape


class OutsideTransaction(RuntimeError):
    """An event written outside a transaction could commit without its change."""


def record_event(type_: str, data: dict[str, Any], *, now: datetime | None = None) -> Event:
    """Write one event in the caller's transaction (which must be open)."""
    if type_ not in EVENT_TYPE_SET:
        raise ValueError(f"unknown event type {type_!r}")
    if not connection.in_atomic_block:
        raise OutsideTransaction(f"{type_} must be written in its change's transaction")
    return Event.objects.create(type=type_, data=data, created_at=now or timezone.now())


def record(type_: str, shape: Shape, obj: Any, *, now: datetime | None = None) -> Event:
    """`obj`'s event, its data encoded as the API answers it."""
    return record_event(type_, shape(obj), now=now)


def record_many(type_: str, shape: Shape, objs: list[Any], *, now: datetime) -> None:
    """One event per object in one INSERT (a batch of codes)."""
    if not connection.in_atomic_block:
        raise OutsideTransaction(f"{type_} must be written in its change's transaction")
    Event.objects.bulk_create(
        [Event(type=type_, data=shape(obj), created_at=now) for obj in objs], batch_size=1000
    )


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
    *, coupon_id: uuid.UUID, remaining_count: int, discount_amount: int | None, now: datetime
) -> None:
    """After a redemption or a hold took a use, in its transaction: `coupon.exhausted`
    when it took the coupon's last use, `campaign.budget_exhausted` when its discount
    left the coupon's campaign no budget (`budget_remaining` 0; it was more before, as
    this discount was taken from it)."""
    if remaining_count == 0:
        record_coupon("coupon.exhausted", coupon_id, now=now)
    if discount_amount:
        # Only a use with a discount can move a budget: one read, none otherwise.
        spent = (
            Campaign.objects.filter(coupons__id=coupon_id, discount_total=F("budget_amount"))
            .values_list("id", flat=True)
            .first()
        )
        if spent is not None:
            record_campaign("campaign.budget_exhausted", spent, now=now)
