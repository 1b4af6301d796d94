"""A hold as the services hand it out (its status as of now), and the events of holds that
expired, written in the transaction that gave their uses back (coupons.services.spending)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from coupons.models import Reservation, ReservationStatus
from coupons.services.priced_orders import order_shown, shipping_part
from coupons.shapes import RESERVATION
from events.services.outbox import record


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    id: uuid.UUID
    coupon_id: uuid.UUID
    code: str
    customer_id: str | None
    order_id: str | None
    order_amount: int | None
    currency: str | None
    discount_amount: int | None
    status: str
    expires_at: datetime
    created_at: datetime
    redemption_id: uuid.UUID | None
    metadata: dict[str, str] = field(default_factory=dict)
    # As a redemption's (coupons.services.redemptions.RedemptionRecord).
    order_lines: list[dict[str, Any]] | None = None
    shipping_amount: int | None = None
    allocations: list[dict[str, Any]] | None = None
    shipping_discount_amount: int | None = None
    group_id: uuid.UUID | None = None  # held with other codes on one order

    @property
    def order(self) -> dict[str, Any] | None:
        return order_shown(
            order_amount=self.order_amount, currency=self.currency,
            order_lines=self.order_lines, shipping_amount=self.shipping_amount,
        )  # fmt: skip


def reservation_record(
    reservation: Reservation, code: str, now: datetime | None = None
) -> ReservationRecord:
    status = reservation.status
    # A hold past its expiry reads as expired at once, whether or not it was swept yet.
    if status == ReservationStatus.HELD and reservation.expires_at <= (now or timezone.now()):
        status = ReservationStatus.EXPIRED
    return ReservationRecord(
        id=reservation.id,
        coupon_id=reservation.coupon_id,
        code=code,
        customer_id=reservation.customer_id,
        order_id=reservation.order_id,
        order_amount=reservation.order_amount,
        currency=reservation.currency,
        discount_amount=reservation.discount_amount,
        status=status,
        expires_at=reservation.expires_at,
        created_at=reservation.created_at,
        redemption_id=reservation.redemption_id,
        metadata=reservation.metadata,
        order_lines=reservation.order_lines,
        shipping_amount=reservation.shipping_amount,
        allocations=reservation.allocations,
        shipping_discount_amount=shipping_part(
            reservation.shipping_discount_amount, reservation.discount_amount
        ),
        group_id=reservation.group_id,
    )


def record_expired_holds(ids: list[uuid.UUID], *, now: datetime) -> None:
    """`reservation.expired` for each of these holds, just returned in the caller's
    transaction (coupons.services.spending)."""
    holds = Reservation.objects.select_related("coupon").filter(pk__in=ids).order_by("pk")
    for hold in holds:
        record(
            "reservation.expired",
            RESERVATION,
            reservation_record(hold, hold.coupon.code, now),
            now=now,
        )
