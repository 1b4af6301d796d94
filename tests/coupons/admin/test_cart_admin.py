"""The admin and carts: a redemption's page shows its lines with their discount, and the
coupon form keeps (and checks) a discount's targeting."""

from __future__ import annotations

import json

from django.urls import reverse

from coupons.domain.discounts import discount_from_json, targeting_json
from coupons.domain.orders import Line, Order
from coupons.models import Coupon
from coupons.services import coupons as coupon_service
from coupons.services import redemptions

SHOES = discount_from_json(
    {"percent_off": 20, "currency": "EUR", "applies_to": {"categories": ["shoes"]}}
)


def change_form(coupon: Coupon, **fields: str) -> dict[str, str]:
    return {
        "init_count": str(coupon.init_count), "is_active": "on", "starts_at_0": "",
        "starts_at_1": "", "expires_at_0": "", "expires_at_1": "", "per_customer_limit": "",
        "discount_percent_off": "20", "discount_amount_off": "", "discount_currency": "EUR",
        "discount_max_amount_off": "", "discount_min_order_amount": "",
        "discount_rules": json.dumps(targeting_json(SHOES)), **fields,
    }  # fmt: skip


def test_a_redemption_page_shows_its_lines_and_their_discount(staff):
    coupon_service.create_coupon(code="SHOES", init_count=5, discount=SHOES)
    order = Order(11998, "EUR", (Line("l1", 2, 4999, categories=("shoes",)), Line("l2", 1, 2000)))
    redemption = redemptions.redeem_coupon(code="SHOES", order=order)

    page = staff.get(reverse("admin:coupons_redemption_change", args=[redemption.id]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "<td>l1</td><td>-</td><td>2</td><td>4999</td><td>2000</td><td>2 x 1000</td>" in html
    assert "<td>l2</td><td>-</td><td>1</td><td>2000</td><td>0</td><td>-</td>" in html


def test_editing_a_coupon_keeps_its_targeting(staff):
    coupon = coupon_service.create_coupon(code="KEEP", init_count=5, discount=SHOES)
    url = reverse("admin:coupons_coupon_change", args=[coupon.pk])

    response = staff.post(url, change_form(coupon, is_active=""))

    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Coupon.objects.get(pk=coupon.pk)
    assert not saved.is_active and saved.discount == SHOES


def test_bad_targeting_is_shown_on_the_form(staff):
    coupon = coupon_service.create_coupon(code="BADRULE", init_count=5, discount=SHOES)
    url = reverse("admin:coupons_coupon_change", args=[coupon.pk])

    bad = json.dumps({"applies_to": {"categories": []}, "allocation": "each"})
    response = staff.post(url, change_form(coupon, discount_rules=bad))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["discount_rules"]
    assert any(e.startswith("applies_to:") for e in errors)
    assert Coupon.objects.get(pk=coupon.pk).discount == SHOES
