"""Holds in the admin: listed per coupon with their status, released through the service."""

from __future__ import annotations

import pytest
from django.urls import reverse

from coupons.models import Coupon, Reservation, ReservationStatus
from coupons.services import reservations
from tests.factories import broken_invariants, make_coupon

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_hold_is_listed_per_coupon_and_released_from_the_admin_once(staff):
    coupon = make_coupon("HELD-ADMIN", init_count=2)
    held = reservations.hold_coupon(code="held-admin", customer_id="c-9")
    page = staff.get(reverse("admin:coupons_coupon_change", args=[coupon.pk])).content.decode()
    assert "1 held now" in page
    url = reverse("admin:coupons_reservation_changelist")
    listed = staff.get(url + f"?coupon__id__exact={coupon.pk}").content.decode()
    assert "HELD-ADMIN" in listed and "held" in listed

    for _ in range(2):
        staff.post(url, {"_selected_action": [str(held.id)], "action": "release"})

    assert Reservation.objects.get(pk=held.id).status == ReservationStatus.RELEASED
    coupon = Coupon.objects.get(pk=coupon.pk)
    assert (coupon.remaining_count, coupon.held_count) == (2, 0)
    assert broken_invariants() == []


def test_the_admin_deletes_a_coupon_whose_hold_ended_and_refuses_one_held_now(staff):
    ended = make_coupon("ENDED-ADMIN", init_count=2)
    released = reservations.hold_coupon(code="ended-admin")
    reservations.release_reservation(released.id)
    live = make_coupon("LIVE-ADMIN", init_count=2)
    reservations.hold_coupon(code="live-admin")

    page = staff.get(reverse("admin:coupons_coupon_delete", args=[ended.pk])).content.decode()
    assert "cannot delete" not in page.lower()
    staff.post(reverse("admin:coupons_coupon_delete", args=[ended.pk]), {"post": "yes"})
    refused = staff.post(
        reverse("admin:coupons_coupon_delete", args=[live.pk]), {"post": "yes"}, follow=True
    )

    assert not Coupon.objects.filter(pk=ended.pk).exists()
    assert not Reservation.objects.filter(pk=released.id).exists()
    assert Coupon.objects.filter(pk=live.pk).exists()
    assert "checkout holds a use" in refused.content.decode()
    assert broken_invariants() == []
