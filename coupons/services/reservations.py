"""Reservations: hold a use of a code during payment, then confirm it (a redemption) or
release it; expired holds are given back (coupons.services.spending, coupons.tasks)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import (
    AlreadyConfirmed,
    DomainError,
    HeldInGroup,
    NotFound,
    ReservationExpired,
    ReservationReleased,
)
from core.workers import in_worker
from coupons.domain.carts import Priced
from coupons.domain.codes import lookup_key
from coupons.domain.discounts import Order
from coupons.models import Campaign, Coupon, Redemption, Reservation, ReservationStatus
from coupons.services.hold_records import ReservationRecord, reservation_record
from coupons.services.ledger_events import record_use_taken
from coupons.services.priced_orders import order_of, use_columns
from coupons.services.redemptions import (
    RedemptionRecord,
    record_redemption,
    redemption_record,
)
from coupons.services.spending import (
    give_back_holds,
    not_found,
    reclaiming_expired_holds,
    return_expired_holds,
    take_use,
)
from coupons.shapes import RESERVATION
from events.services.outbox import record

DEFAULT_TTL_SECONDS = 900
MAX_TTL_SECONDS = 86_400


def hold_coupon(
    *,
    code: str,
    customer_id: str | None = None,
    order_id: str | None = None,
    order: Order | Mapping[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    api_key_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> ReservationRecord:
    """Take what a redemption of `code` would take (every check, the use, a customer
    slot, campaign capacity and budget) and keep it for `ttl_seconds`."""
    now = now or timezone.now()
    given = order_of(order)
    metadata = metadata or {}
    key = lookup_key(code)
    if key is None:
        raise not_found(code)

    def attempt() -> ReservationRecord:
        with transaction.atomic():
            taken = take_use(
                key=key, code=code, customer_id=customer_id, order=given, now=now, hold=True
            )
            held = record_new_hold(
                coupon_id=taken.coupon_id, campaign_id=taken.campaign_id, code=taken.code,
                remaining=taken.remaining_count,
                priced=taken.priced, order=given, customer_id=customer_id, order_id=order_id,
                metadata=metadata, expires_at=now + timedelta(seconds=ttl_seconds),
                api_key_id=api_key_id, now=now,
            )  # fmt: skip
        return held

    return reclaiming_expired_holds(key, now, attempt)


def record_new_hold(
    *, coupon_id: uuid.UUID, campaign_id: uuid.UUID | None, code: str, remaining: int,
    priced: Priced | None,
    order: Order | None, customer_id: str | None, order_id: str | None,
    metadata: dict[str, str], expires_at: datetime, api_key_id: uuid.UUID | None,
    now: datetime, group_id: uuid.UUID | None = None, position: int | None = None,
) -> ReservationRecord:  # fmt: skip
    """The hold of a use just taken (as held) in the caller's transaction (alone, or the
    `position`th applied of a group), its event, and those of a last use or budget."""
    reservation = Reservation.objects.create(
        coupon_id=coupon_id, customer_id=customer_id, order_id=order_id,
        status=ReservationStatus.HELD, expires_at=expires_at, created_at=now,
        api_key_id=api_key_id, metadata=metadata, group_id=group_id, group_position=position,
        **use_columns(order, priced),
    )  # fmt: skip
    held = reservation_record(reservation, code, now)
    record("reservation.created", RESERVATION, held, now=now)
    record_use_taken(
        coupon_id=coupon_id, campaign_id=campaign_id, remaining_count=remaining,
        discount_amount=reservation.discount_amount, now=now,
    )  # fmt: skip
    return held


def _refusal(reservation_id: uuid.UUID, *, now: datetime) -> DomainError:
    row = (
        Reservation.objects.filter(pk=reservation_id)
        .values_list("status", "group_id", "expires_at")
        .first()
    )
    status = None if row is None else row[0]
    if row is not None and row[0] == ReservationStatus.HELD and row[1] and row[2] > now:
        return HeldInGroup()  # a group's holds are confirmed or released together
    return settled_refusal(
        status, missing=f"No reservation has the id {reservation_id}.",
        give_back=lambda: return_expired_holds(now=now, ids=[reservation_id]),
    )  # fmt: skip


def settled_refusal(
    status: str | None, *, missing: str, give_back: Callable[[], object]
) -> DomainError:
    """Why a held-and-live condition matched nothing, from the hold's (or the group's)
    `status` (None: no such id); a hold past its expiry that the sweeper has not reached
    yet is given back here (`give_back`: its own transaction)."""
    if status is None:
        return NotFound(missing)
    if status == ReservationStatus.CONFIRMED:
        return AlreadyConfirmed()
    if status == ReservationStatus.RELEASED:
        return ReservationReleased()
    if status == ReservationStatus.HELD:
        give_back()
    return ReservationExpired()


def confirm_reservation(
    reservation_id: uuid.UUID, *, now: datetime | None = None
) -> RedemptionRecord:
    """Turn a live hold into a redemption: it spends nothing more (the hold took the use,
    the capacity and the budget), so it cannot be refused for want of them."""
    now = now or timezone.now()
    redemption_id = uuid.uuid4()
    with transaction.atomic():
        # Lock order: the reservation row first (this conditional UPDATE: a concurrent
        # release or sweep of the same hold matches nothing once this commits), then its
        # coupon row, then its campaign row. The redemption row is new: nobody can lock it.
        # The foreign key to the redemption is checked at commit (deferred).
        confirmed = Reservation.objects.filter(
            pk=reservation_id,
            status=ReservationStatus.HELD,
            expires_at__gt=now,
            group__isnull=True,
        ).update(status=ReservationStatus.CONFIRMED, redemption_id=redemption_id)
        if confirmed:
            # The coupon's row next (its held use becomes a redemption), then the hold read
            # with it: the coupon as this transaction left it, its row locked.
            Coupon.objects.filter(reservations__pk=reservation_id).update(
                held_count=F("held_count") - 1, updated_at=now
            )
            hold = Reservation.objects.select_related("coupon").get(pk=reservation_id)
            remaining = hold.coupon.remaining_count
            if hold.coupon.campaign_id is not None:
                Campaign.objects.filter(pk=hold.coupon.campaign_id).update(
                    held_count=F("held_count") - 1,
                    redemption_count=F("redemption_count") + 1,
                    updated_at=now,
                )
            redemption = redeem_hold(
                hold, redemption_id=redemption_id, remaining=remaining, now=now
            )
    if not confirmed:
        raise _refusal(reservation_id, now=now)
    return redemption


def redeem_hold(
    hold: Reservation, *, redemption_id: uuid.UUID, remaining: int, now: datetime,
    group_id: uuid.UUID | None = None,
) -> RedemptionRecord:  # fmt: skip
    """The redemption a confirmed hold becomes (its order, discount and metadata as held),
    and the events of both, inside the confirm's transaction."""
    created = Redemption.objects.create(
        id=redemption_id,
        coupon_id=hold.coupon_id,
        customer_id=hold.customer_id,
        order_id=hold.order_id,
        remaining_after=remaining,
        redeemed_at=now,
        api_key_id=hold.api_key_id,
        order_amount=hold.order_amount,
        currency=hold.currency,
        discount_amount=hold.discount_amount,
        metadata=hold.metadata,
        order_lines=hold.order_lines,
        shipping_amount=hold.shipping_amount,
        allocations=hold.allocations,
        shipping_discount_amount=hold.shipping_discount_amount,
        group_id=group_id,
        group_position=hold.group_position,
    )
    hold.status, hold.redemption_id = ReservationStatus.CONFIRMED, redemption_id
    record("reservation.confirmed", RESERVATION, reservation_record(hold, hold.coupon.code, now),
           now=now)  # fmt: skip
    redemption = redemption_record(created, hold.coupon.code)
    record_redemption("redemption.created", redemption, now=now)
    return redemption


def release_reservation(
    reservation_id: uuid.UUID, *, now: datetime | None = None
) -> ReservationRecord:
    """Give back what a live hold took, exactly once."""
    now = now or timezone.now()
    with transaction.atomic():
        # The conditional UPDATE on the reservation row decides between a release, a
        # confirm and a sweep of one hold: exactly one matches (lock order as confirm's).
        # A group's holds go together (coupons.services.hold_groups).
        released = Reservation.objects.filter(
            pk=reservation_id,
            status=ReservationStatus.HELD,
            expires_at__gt=now,
            group__isnull=True,
        ).update(status=ReservationStatus.RELEASED, returned_at=now)
        if released:
            hold = Reservation.objects.select_related("coupon").get(pk=reservation_id)
            (released_hold,) = give_back_released([hold], now=now)
    if not released:
        raise _refusal(reservation_id, now=now)
    return released_hold


def give_back_released(holds: list[Reservation], *, now: datetime) -> list[ReservationRecord]:
    """Inside the caller's transaction, which just marked `holds` released (their rows
    locked, their coupons read with them): give back what they took, in the lock order,
    and record their events."""
    give_back_holds(
        [(h.coupon_id, h.coupon.campaign_id, h.customer_id, h.discount_amount) for h in holds],
        now=now,
    )
    released = [reservation_record(hold, hold.coupon.code, now) for hold in holds]
    for done in released:
        record("reservation.released", RESERVATION, done, now=now)
    return released


def get_reservation(reservation_id: uuid.UUID) -> ReservationRecord:
    try:
        reservation = Reservation.objects.select_related("coupon").get(pk=reservation_id)
    except Reservation.DoesNotExist as exc:
        raise NotFound(f"No reservation has the id {reservation_id}.") from exc
    return reservation_record(reservation, reservation.coupon.code)


def sweep_expired_holds(*, now: datetime | None = None) -> int:
    """Give back every hold past its expiry (the worker's periodic task); how many."""
    now = now or timezone.now()
    total = 0
    while returned := return_expired_holds(now=now):
        total += returned
    return total


aget_reservation = in_worker(get_reservation)
