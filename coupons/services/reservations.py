"""Reservations: hold a use of a code during payment, then confirm it (a redemption) or
release it; expired holds are given back (coupons.services.spending, coupons.tasks)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import (
    AlreadyConfirmed,
    NotFound,
    ReservationExpired,
    ReservationReleased,
)
from core.workers import in_worker
from coupons.domain.codes import lookup_key
from coupons.domain.discounts import Order
from coupons.models import Campaign, Coupon, Redemption, Reservation, ReservationStatus
from coupons.services.hold_records import ReservationRecord, reservation_record
from coupons.services.ledger_events import record_use_taken
from coupons.services.priced_orders import order_of, priced_columns
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
            reservation = Reservation.objects.create(
                coupon_id=taken.coupon_id,
                customer_id=customer_id,
                order_id=order_id,
                order_amount=given and given.amount,
                currency=given and given.currency,
                discount_amount=taken.discount_amount,
                status=ReservationStatus.HELD,
                expires_at=now + timedelta(seconds=ttl_seconds),
                created_at=now,
                api_key_id=api_key_id,
                metadata=metadata,
                **priced_columns(given, taken.priced),
            )
            held = reservation_record(reservation, taken.code, now)
            record("reservation.created", RESERVATION, held, now=now)
            record_use_taken(
                coupon_id=taken.coupon_id, remaining_count=taken.remaining_count,
                discount_amount=taken.discount_amount, now=now,
            )  # fmt: skip
        return held

    return reclaiming_expired_holds(key, now, attempt)


def _refusal(reservation_id: uuid.UUID, *, now: datetime) -> Exception:
    """Why the held-and-live condition matched nothing; a hold past its expiry that the
    sweeper has not reached yet is given back here (its own transaction)."""
    status = Reservation.objects.filter(pk=reservation_id).values_list("status", flat=True).first()
    if status is None:
        return NotFound(f"No reservation has the id {reservation_id}.")
    if status == ReservationStatus.CONFIRMED:
        return AlreadyConfirmed()
    if status == ReservationStatus.RELEASED:
        return ReservationReleased()
    if status == ReservationStatus.HELD:
        return_expired_holds(now=now, ids=[reservation_id])
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
            pk=reservation_id, status=ReservationStatus.HELD, expires_at__gt=now
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
            )
            hold.status, hold.redemption_id = ReservationStatus.CONFIRMED, redemption_id
            confirmed_hold = reservation_record(hold, hold.coupon.code, now)
            record("reservation.confirmed", RESERVATION, confirmed_hold, now=now)
            redemption = redemption_record(created, hold.coupon.code)
            record_redemption("redemption.created", redemption, now=now)
    if not confirmed:
        raise _refusal(reservation_id, now=now)
    return redemption


def release_reservation(
    reservation_id: uuid.UUID, *, now: datetime | None = None
) -> ReservationRecord:
    """Give back what a live hold took, exactly once."""
    now = now or timezone.now()
    with transaction.atomic():
        # The conditional UPDATE on the reservation row decides between a release, a
        # confirm and a sweep of one hold: exactly one matches (lock order as confirm's).
        released = Reservation.objects.filter(
            pk=reservation_id, status=ReservationStatus.HELD, expires_at__gt=now
        ).update(status=ReservationStatus.RELEASED, returned_at=now)
        if released:
            hold = Reservation.objects.select_related("coupon").get(pk=reservation_id)
            give_back_holds(
                [(hold.coupon_id, hold.coupon.campaign_id, hold.customer_id, hold.discount_amount)],
                now=now,
            )
            released_hold = reservation_record(hold, hold.coupon.code, now)
            record("reservation.released", RESERVATION, released_hold, now=now)
    if not released:
        raise _refusal(reservation_id, now=now)
    return reservation_record(hold, hold.coupon.code, now)


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
