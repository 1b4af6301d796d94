"""Several codes held on one order as one reservation group during payment, all or none:
held together (coupons.services.group_spending takes the uses as held), then confirmed
into one redemption group or released, together. Expired member holds are swept and
reclaimed one by one like any hold (coupons.services.spending).

Lock order: the group row first (the conditional UPDATE that decides between a confirm
and a release of the group, exactly one), then its member reservation rows in id order,
then their coupon rows in id order, campaign rows in id order and customer counters: the
order of a single hold's confirm or release and of the sweeper, which locks reservation
rows before coupon rows and never a group row.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import NotFound, ReservationExpired
from core.workers import in_worker
from coupons.db.group_sql import as_written
from coupons.domain.discounts import Order
from coupons.models import (
    Campaign,
    Coupon,
    RedemptionGroup,
    Reservation,
    ReservationGroup,
    ReservationStatus,
)
from coupons.services.group_records import (
    GroupRecord,
    ReservationGroupRecord,
    group_record,
    reservation_group_record,
)
from coupons.services.group_spending import (
    group_columns,
    reclaiming_group_holds,
    take_group_uses,
    write_group,
)
from coupons.services.hold_records import reservation_record
from coupons.services.priced_orders import order_of, use_columns
from coupons.services.reservations import (
    DEFAULT_TTL_SECONDS,
    give_back_released,
    redeem_hold,
    settled_refusal,
)
from coupons.services.spending import return_expired_holds
from coupons.shapes import RESERVATION
from events.services.outbox import new_event

# The columns a redemption group copies from the reservation group it was confirmed from.
_STACKED_COLUMNS = (
    "codes", "customer_id", "order_id", "order_amount", "currency", "order_lines",
    "shipping_amount", "discount_amount", "shipping_discount_amount", "allocations", "metadata",
)  # fmt: skip


def hold_codes(
    *,
    codes: Sequence[str],
    customer_id: str | None = None,
    order_id: str | None = None,
    order: Order | Mapping[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    api_key_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> ReservationGroupRecord:
    """Hold every code on one order, or none, for `ttl_seconds`: what redeeming them as a
    group would take (coupons.services.groups.redeem_codes), taken as held; a refusal
    names the first code refused (in application order) in `details.code`."""
    now = now or timezone.now()
    given = order_of(order)
    expires_at = now + timedelta(seconds=ttl_seconds)

    def attempt() -> ReservationGroupRecord:
        with transaction.atomic():
            taken = take_group_uses(codes, customer_id=customer_id, order=given, now=now, hold=True)
            group = as_written(
                ReservationGroup(
                    id=uuid.uuid4(),
                    **group_columns(
                        codes, customer_id=customer_id, order_id=order_id, order=given,
                        total=taken.total, metadata=metadata or {}, now=now,
                    ),
                    expires_at=expires_at,
                )
            )  # fmt: skip
            # Built as they are written, answered as reading them back would answer.
            holds, records = [], []
            for position, coupon, part in taken.applied():
                held = as_written(
                    Reservation(
                        id=uuid.uuid4(), coupon_id=coupon.id, customer_id=customer_id,
                        order_id=order_id, status=ReservationStatus.HELD, expires_at=expires_at,
                        created_at=now, api_key_id=api_key_id, metadata=metadata or {},
                        group_id=group.id, group_position=position, **use_columns(given, part),
                    )
                )  # fmt: skip
                holds.append(held)
                records.append(reservation_record(held, coupon.code, now))
            write_group(
                taken, group=group, members=holds, now=now, hold=True,
                created=[
                    new_event("reservation.created", RESERVATION(r), now=now) for r in records
                ],
            )  # fmt: skip
            return reservation_group_record(group, now, written=records)

    return reclaiming_group_holds(codes, now, attempt)


def _settle(group_id: uuid.UUID, *, now: datetime, **change: Any) -> list[Reservation] | None:
    """Inside the caller's transaction: move a held, live group to `change` (the decisive
    conditional UPDATE), then lock its member holds in id order; None when the group was
    not held and live. Raises reservation_expired (the caller rolls back) when a member was
    swept at the very moment of its expiry."""
    settled = ReservationGroup.objects.filter(
        pk=group_id, status=ReservationStatus.HELD, expires_at__gt=now
    ).update(**change)
    if not settled:
        return None
    holds = list(
        Reservation.objects.select_for_update(of=("self",))
        .filter(group_id=group_id)
        .select_related("coupon")
        .order_by("id")
    )
    if any(h.status != ReservationStatus.HELD or h.expires_at <= now for h in holds):
        raise ReservationExpired()
    return holds


def _refusal(group_id: uuid.UUID, *, now: datetime) -> Exception:
    status = ReservationGroup.objects.filter(pk=group_id).values_list("status", flat=True).first()

    def give_back() -> int:
        members = Reservation.objects.filter(group_id=group_id).values_list("pk", flat=True)
        return return_expired_holds(now=now, ids=list(members))

    return settled_refusal(
        status, missing=f"No reservation group has the id {group_id}.", give_back=give_back
    )


def confirm_reservation_group(group_id: uuid.UUID, *, now: datetime | None = None) -> GroupRecord:
    """Turn every hold of a live group into a redemption of one redemption group, or none:
    it spends nothing more (the holds took the uses, capacity and budget)."""
    now = now or timezone.now()
    redemption_group_id = uuid.uuid4()
    with transaction.atomic():
        # The redemption group is created below: the foreign key is checked at commit.
        holds = _settle(
            group_id, now=now, status=ReservationStatus.CONFIRMED,
            redemption_group_id=redemption_group_id,
        )  # fmt: skip
        if holds is not None:
            group = ReservationGroup.objects.get(pk=group_id)
            redemption_group = RedemptionGroup.objects.create(
                id=redemption_group_id,
                **{column: getattr(group, column) for column in _STACKED_COLUMNS},
                created_at=now,
            )
            redemption_ids = {hold.pk: uuid.uuid4() for hold in holds}
            for hold in holds:
                Reservation.objects.filter(pk=hold.pk).update(
                    status=ReservationStatus.CONFIRMED, redemption_id=redemption_ids[hold.pk]
                )
            # Each held use becomes a redemption: coupons, then campaigns, in id order.
            coupon_ids = sorted(hold.coupon_id for hold in holds)
            list(Coupon.objects.select_for_update().filter(pk__in=coupon_ids).order_by("id"))
            Coupon.objects.filter(pk__in=coupon_ids).update(
                held_count=F("held_count") - 1, updated_at=now
            )
            remaining = dict(
                Coupon.objects.filter(pk__in=coupon_ids).values_list("id", "remaining_count")
            )
            campaign_ids = sorted(
                {h.coupon.campaign_id for h in holds if h.coupon.campaign_id is not None}
            )
            list(Campaign.objects.select_for_update().filter(pk__in=campaign_ids).order_by("id"))
            # Two codes of one campaign never combine: each campaign holds one use.
            Campaign.objects.filter(pk__in=campaign_ids).update(
                held_count=F("held_count") - 1,
                redemption_count=F("redemption_count") + 1,
                updated_at=now,
            )
            for hold in sorted(holds, key=lambda h: (h.group_position, h.pk)):
                redeem_hold(
                    hold, redemption_id=redemption_ids[hold.pk],
                    remaining=remaining[hold.coupon_id], now=now, group_id=redemption_group.id,
                )  # fmt: skip
            confirmed = group_record(redemption_group)
    if holds is None:
        raise _refusal(group_id, now=now)
    return confirmed


def release_reservation_group(
    group_id: uuid.UUID, *, now: datetime | None = None
) -> ReservationGroupRecord:
    """Give back what every hold of a live group took, exactly once, all or none."""
    now = now or timezone.now()
    with transaction.atomic():
        holds = _settle(group_id, now=now, status=ReservationStatus.RELEASED)
        if holds is not None:
            Reservation.objects.filter(pk__in=[h.pk for h in holds]).update(
                status=ReservationStatus.RELEASED, returned_at=now
            )
            for hold in holds:
                hold.status, hold.returned_at = ReservationStatus.RELEASED, now
            give_back_released(holds, now=now)
            released = reservation_group_record(ReservationGroup.objects.get(pk=group_id), now)
    if holds is None:
        raise _refusal(group_id, now=now)
    return released


def get_reservation_group(group_id: uuid.UUID) -> ReservationGroupRecord:
    group = ReservationGroup.objects.filter(pk=group_id).first()
    if group is None:
        raise NotFound(f"No reservation group has the id {group_id}.")
    return reservation_group_record(group)


aget_reservation_group = in_worker(get_reservation_group)
