"""Holds on a delete of never-redeemed coupons (one, or a campaign's): a live hold refuses
it as a redemption does; holds that ended without a redemption go with the coupon."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from core.errors import HasRedemptions
from coupons.models import Coupon, Reservation, ReservationStatus
from coupons.services.spending import return_expired_holds


def clear_ended_holds(coupons: QuerySet[Coupon], *, now: datetime) -> None:
    """Inside the caller's transaction, before it deletes `coupons`: refuse (409
    has_redemptions) while one has a live or confirmed hold; return what expired holds
    nobody swept still take from a campaign; delete the released and expired holds.

    Lock order (coupons.services.spending): the holds' rows, then the coupon rows in id
    order, then (returning expired holds) the campaign row; the caller's deletes then touch
    only rows it already holds, and the campaign row last."""
    holds = Reservation.objects.filter(coupon__in=coupons)
    rows = list(
        holds.select_for_update(of=("self",))
        .order_by("id")
        .values_list("id", "status", "expires_at")
    )
    list(coupons.select_for_update().order_by("id").values_list("id"))
    if not rows:
        return
    if any(status == ReservationStatus.CONFIRMED for _, status, _ in rows):
        raise HasRedemptions()
    held = [(pk, expires_at) for pk, status, expires_at in rows if status == ReservationStatus.HELD]
    if any(expires_at > now for _, expires_at in held):
        raise HasRedemptions(
            "A checkout holds a use of this coupon: release the hold or let it expire, "
            "or deactivate the coupon instead."
        )
    if held:
        return_expired_holds(now=now, ids=[pk for pk, _ in held])
    Reservation.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
