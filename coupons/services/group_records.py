"""A redemption group and a reservation group as the services hand them out: the order as
priced for all their codes, and their members as they are now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from coupons.models import (
    RedemptionGroup,
    Reservation,
    ReservationGroup,
    ReservationStatus,
)
from coupons.models.group import StackedOrder
from coupons.services.hold_records import ReservationRecord, reservation_record
from coupons.services.priced_orders import order_shown
from coupons.services.redemptions import RedemptionRecord, redemption_record


@dataclass(frozen=True, slots=True)
class StackedOrderRecord:
    id: uuid.UUID
    codes: list[str]
    customer_id: str | None
    order_id: str | None
    order_amount: int | None
    currency: str | None
    order_lines: list[dict[str, Any]] | None
    shipping_amount: int | None
    discount_amount: int | None
    shipping_discount_amount: int | None
    allocations: list[dict[str, Any]] | None
    created_at: datetime

    @property
    def order(self) -> dict[str, Any] | None:
        return order_shown(
            order_amount=self.order_amount, currency=self.currency,
            order_lines=self.order_lines, shipping_amount=self.shipping_amount,
        )  # fmt: skip

    @property
    def amount_after_discount(self) -> int | None:
        if self.order_amount is None or self.discount_amount is None:
            return None
        return self.order_amount - (self.discount_amount - (self.shipping_discount_amount or 0))

    @property
    def shipping_amount_after_discount(self) -> int | None:
        if self.shipping_amount is None or self.discount_amount is None:
            return None
        return self.shipping_amount - (self.shipping_discount_amount or 0)


@dataclass(frozen=True, slots=True)
class GroupRecord(StackedOrderRecord):
    redemptions: list[RedemptionRecord]


@dataclass(frozen=True, slots=True)
class ReservationGroupRecord(StackedOrderRecord):
    status: str
    expires_at: datetime
    redemption_group_id: uuid.UUID | None
    reservations: list[ReservationRecord]


def _stacked(group: StackedOrder) -> dict[str, Any]:
    return {
        "id": group.id,
        "codes": list(group.codes),
        "customer_id": group.customer_id,
        "order_id": group.order_id,
        "order_amount": group.order_amount,
        "currency": group.currency,
        "order_lines": group.order_lines,
        "shipping_amount": group.shipping_amount,
        "discount_amount": group.discount_amount,
        "shipping_discount_amount": group.shipping_discount_amount,
        "allocations": group.allocations,
        "created_at": group.created_at,
    }


def group_record(
    group: RedemptionGroup, *, written: list[RedemptionRecord] | None = None
) -> GroupRecord:
    """The group and its members as they are now, or as just `written` (in application
    order: what reading them back would give)."""
    if written is not None:
        return GroupRecord(**_stacked(group), redemptions=written)
    members = sorted(
        group.redemptions.select_related("coupon"), key=lambda r: (r.group_position, r.pk)
    )
    return GroupRecord(
        **_stacked(group), redemptions=[redemption_record(r, r.coupon.code) for r in members]
    )


def reservation_group_record(
    group: ReservationGroup,
    now: datetime | None = None,
    *,
    written: list[ReservationRecord] | None = None,
) -> ReservationGroupRecord:
    """As `group_record`, for a reservation group."""
    now = now or timezone.now()
    if written is None:
        members: list[Reservation] = sorted(
            group.reservations.select_related("coupon"), key=lambda r: (r.group_position, r.pk)
        )
        written = [reservation_record(r, r.coupon.code, now) for r in members]
    status = group.status
    # Held past its expiry reads as expired at once, as a hold does, swept or not.
    if status == ReservationStatus.HELD and group.expires_at <= now:
        status = ReservationStatus.EXPIRED
    return ReservationGroupRecord(
        **_stacked(group),
        status=status,
        expires_at=group.expires_at,
        redemption_group_id=group.redemption_group_id,
        reservations=written,
    )
