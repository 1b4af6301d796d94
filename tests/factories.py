"""Rows for tests, made through the services like the API makes them, and the invariant."""

from __future__ import annotations

import uuid
from itertools import count
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import Count, Q

from coupons.models import Coupon, ReservationStatus
from coupons.services import coupons as coupon_service

_numbers = count(1)


def make_coupon(code: str | None = None, *, init_count: int = 10, **fields: Any) -> Coupon:
    return coupon_service.create_coupon(
        code=code or f"TEST-{next(_numbers)}-{uuid.uuid4().hex[:6]}",
        init_count=init_count,
        **fields,
    )


amake_coupon = sync_to_async(make_coupon)


def admin_add_form(code: str, *, init_count: int = 7) -> dict[str, Any]:
    """The admin's add-coupon form as a staff member fills it: a code and a count, active,
    no dates and no per-customer limit."""
    return {
        "code": code, "init_count": init_count, "is_active": "on", "starts_at_0": "",
        "starts_at_1": "", "expires_at_0": "", "expires_at_1": "", "per_customer_limit": "",
    }  # fmt: skip


def coupon_state(coupon_id: uuid.UUID) -> tuple[int, int, int]:
    """(init_count, remaining_count, live redemptions) of one coupon, read fresh."""
    coupon = Coupon.objects.annotate(
        live=Count("redemptions", filter=Q(redemptions__reverted_at__isnull=True))
    ).get(pk=coupon_id)
    return coupon.init_count, coupon.remaining_count, coupon.live


acoupon_state = sync_to_async(coupon_state)


def broken_invariants() -> list[str]:
    """Every coupon whose spent uses differ from its live redemptions plus its unreturned
    holds, or whose held_count differs from its held holds (should be none)."""
    held = Q(reservations__status=ReservationStatus.HELD)
    rows = Coupon.objects.annotate(
        live=Count("redemptions", filter=Q(redemptions__reverted_at__isnull=True), distinct=True),
        holds=Count("reservations", filter=held, distinct=True),
    ).values_list("code", "init_count", "remaining_count", "held_count", "live", "holds")
    broken = []
    for code, init, left, held_count, live, holds in rows:
        if init - left != live + holds:
            broken.append(f"{code}: init {init} - remaining {left} != live {live} + held {holds}")
        if held_count != holds:
            broken.append(f"{code}: held_count {held_count} != held holds {holds}")
    return broken


abroken_invariants = sync_to_async(broken_invariants)
