"""Several codes redeemed on one order as one group, all or none, in one transaction
(coupons.services.group_spending takes the uses, coupons.domain.stacking prices them), and
reverted together.

Lock order (coupons.services.group_spending): coupon rows in id order, then campaign rows
in id order, then the customer's counter rows in campaign id order. A revert locks the
group's redemption rows (in id order) first, then the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import AlreadyReverted, NotFound
from core.workers import in_worker
from coupons.db.group_sql import as_written
from coupons.domain.discounts import Order
from coupons.models import Campaign, CampaignCustomer, Coupon, Redemption, RedemptionGroup
from coupons.services.group_records import GroupRecord, group_record
from coupons.services.group_spending import (
    group_columns,
    reclaiming_group_holds,
    take_group_uses,
    write_group,
)
from coupons.services.priced_orders import order_of, use_columns
from coupons.services.redemptions import record_redemption, redemption_record
from coupons.shapes import REDEMPTION
from events.services.outbox import new_event


def redeem_codes(
    *,
    codes: Sequence[str],
    customer_id: str | None = None,
    order_id: str | None = None,
    order: Order | Mapping[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    api_key_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> GroupRecord:
    """Redeem every code on one order, or none: one transaction takes every use, every
    campaign's capacity and budget and every customer slot, or raises the refusal of the
    first code (in application order) refused, naming it in `details.code`."""
    now = now or timezone.now()
    given = order_of(order)

    def attempt() -> GroupRecord:
        # A savepoint when nested (under an Idempotency-Key's claim).
        with transaction.atomic():
            taken = take_group_uses(
                codes, customer_id=customer_id, order=given, now=now, hold=False
            )
            group = as_written(
                RedemptionGroup(
                    id=uuid.uuid4(),
                    **group_columns(
                        codes, customer_id=customer_id, order_id=order_id, order=given,
                        total=taken.total, metadata=metadata or {}, now=now,
                    ),
                )
            )  # fmt: skip
            # Built as they are written, answered as reading them back would answer.
            redemptions, records = [], []
            for position, coupon, part in taken.applied():
                redemption = as_written(
                    Redemption(
                        id=uuid.uuid4(), coupon_id=coupon.id, customer_id=customer_id,
                        order_id=order_id, remaining_after=taken.remaining[coupon.id],
                        redeemed_at=now, api_key_id=api_key_id, metadata=metadata or {},
                        group_id=group.id, group_position=position,
                        **use_columns(given, part),
                    )
                )  # fmt: skip
                redemptions.append(redemption)
                records.append(redemption_record(redemption, coupon.code))
            write_group(
                taken, group=group, members=redemptions, now=now, hold=False,
                created=[
                    new_event("redemption.created", REDEMPTION(r), now=now) for r in records
                ],
            )  # fmt: skip
            return group_record(group, written=records)

    return reclaiming_group_holds(codes, now, attempt)


def get_redemption_group(group_id: uuid.UUID) -> GroupRecord:
    group = RedemptionGroup.objects.filter(pk=group_id).first()
    if group is None:
        raise NotFound(f"No redemption group has the id {group_id}.")
    return group_record(group)


def revert_redemption_group(group_id: uuid.UUID, *, now: datetime | None = None) -> GroupRecord:
    """Give back every live redemption of the group, in one transaction: the uses, the
    campaigns' capacity and discounts, the customers' slots. AlreadyReverted when none
    was live."""
    now = now or timezone.now()
    with transaction.atomic():
        group = RedemptionGroup.objects.filter(pk=group_id).first()
        if group is None:
            raise NotFound(f"No redemption group has the id {group_id}.")
        # The lock order: the redemption rows (id order), coupons, campaigns, counters.
        live = list(
            Redemption.objects.select_for_update(of=("self",))
            .filter(group_id=group_id, reverted_at__isnull=True)
            .select_related("coupon")
            .order_by("id")
        )
        if not live:
            raise AlreadyReverted()
        Redemption.objects.filter(pk__in=[r.pk for r in live]).update(reverted_at=now)
        for redemption in sorted(live, key=lambda r: r.coupon_id):
            Coupon.objects.filter(pk=redemption.coupon_id).update(
                remaining_count=F("remaining_count") + 1, updated_at=now
            )
        of_campaigns = sorted(
            ((r.coupon.campaign_id, r) for r in live if r.coupon.campaign_id is not None),
            key=lambda pair: pair[0],
        )
        for campaign_id, redemption in of_campaigns:
            Campaign.objects.filter(pk=campaign_id).update(
                redemption_count=F("redemption_count") - 1,
                discount_total=F("discount_total") - (redemption.discount_amount or 0),
                updated_at=now,
            )
        for campaign_id, redemption in of_campaigns:
            if redemption.customer_id:
                CampaignCustomer.objects.filter(
                    campaign_id=campaign_id, customer_id=redemption.customer_id
                ).update(live_count=F("live_count") - 1)
        for redemption in live:
            redemption.reverted_at = now
            record_redemption(
                "redemption.reverted", redemption_record(redemption, redemption.coupon.code),
                now=now,
            )  # fmt: skip
        return group_record(group)


aget_redemption_group = in_worker(get_redemption_group)
