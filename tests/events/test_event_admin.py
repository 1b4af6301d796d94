"""The admin writes the same events as the API (through the same services), and shows the
log read-only, by type, found by id."""

from __future__ import annotations

import pytest
from django.urls import reverse

from coupons.models import Coupon
from coupons.services.coupons import get_coupon
from coupons.shapes import COUPON
from events.models import Event
from tests.factories import admin_add_form, make_coupon

pytestmark = pytest.mark.django_db(transaction=True)


def types() -> list[str]:
    return list(Event.objects.order_by("created_at").values_list("type", flat=True))


def test_admin_add_edit_actions_and_delete_write_coupon_events(staff):
    response = staff.post(
        reverse("admin:coupons_coupon_add"),
        admin_add_form("ADM-1"),
    )
    assert response.status_code == 302
    coupon = Coupon.objects.get(code="ADM-1")
    assert Event.objects.get(type="coupon.created").data == COUPON(get_coupon(coupon.pk))

    url = reverse("admin:coupons_coupon_changelist")
    staff.post(url, {"_selected_action": [str(coupon.pk)], "action": "deactivate"})
    assert Event.objects.get(type="coupon.updated").data == COUPON(get_coupon(coupon.pk))

    last = COUPON(get_coupon(coupon.pk))
    staff.post(reverse("admin:coupons_coupon_delete", args=[coupon.pk]), {"post": "yes"})
    assert not Coupon.objects.filter(pk=coupon.pk).exists()
    assert Event.objects.get(type="coupon.deleted").data == last
    assert types() == ["coupon.created", "coupon.updated", "coupon.deleted"]


def test_the_log_is_listed_by_type_found_by_id_and_read_only(staff):
    make_coupon("LOG-1", init_count=1)
    event = Event.objects.get()
    url = reverse("admin:events_event_changelist")

    assert str(event.pk) in staff.get(url, {"type": "coupon.created"}).content.decode()
    assert str(event.pk) not in staff.get(url, {"type": "coupon.deleted"}).content.decode()
    assert str(event.pk) in staff.get(url, {"q": str(event.pk)}).content.decode()
    assert staff.get(url, {"q": "not-an-id"}).status_code == 200
    detail = staff.get(reverse("admin:events_event_change", args=[event.pk]))
    assert detail.status_code == 200 and "LOG-1" in detail.content.decode()
    assert staff.get(reverse("admin:events_event_add")).status_code == 403
    staff.post(reverse("admin:events_event_delete", args=[event.pk]), {"post": "yes"})
    assert Event.objects.filter(pk=event.pk).exists()
