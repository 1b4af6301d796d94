"""The campaign admin, through Django's test client: create, codes, spend, on/off, and
edits refused by the service shown on the form."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from coupons.models import Campaign, Coupon
from coupons.services import campaigns, redemptions
from coupons.services.batches import create_coupon_batch
from tests.campaigns import broken_campaign_counters

pytestmark = pytest.mark.django_db(transaction=True)


def campaign_form(**changes) -> dict:
    data = {
        "name": "Black Friday", "is_active": "on",
        "starts_at_0": "", "starts_at_1": "", "expires_at_0": "", "expires_at_1": "",
        "per_customer_limit": "", "max_redemptions": "10",
        "discount_percent_off": "20", "discount_amount_off": "", "discount_currency": "EUR",
        "discount_max_amount_off": "1500", "discount_min_order_amount": "",
        "budget_amount": "3000", "budget_currency": "EUR",
    }  # fmt: skip
    data.update(changes)
    return {k: v for k, v in data.items() if v != "" or k != "is_active"}


def test_a_campaign_is_created_in_the_admin_through_the_service(staff):
    response = staff.post(reverse("admin:coupons_campaign_add"), campaign_form())

    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.name == "Black Friday" and campaign.max_redemptions == 10
    assert campaign.budget == {"amount": 3000, "currency": "EUR"}
    assert campaign.discount is not None and campaign.discount.max_amount_off == 1500


def test_a_campaign_s_window_keeps_the_apis_years_in_utc(staff):
    response = staff.post(
        reverse("admin:coupons_campaign_add"),
        campaign_form(expires_at_0="9999-12-31", expires_at_1="12:00:00"),
    )

    assert response.status_code == 200
    assert "expires_at" in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_a_budget_in_another_currency_is_refused_on_the_form(staff):
    response = staff.post(
        reverse("admin:coupons_campaign_add"), campaign_form(budget_currency="USD")
    )

    assert response.status_code == 200
    assert "Must be the discount&#x27;s currency." in response.content.decode()
    assert not Campaign.objects.exists()


def test_codes_are_generated_for_a_campaign_and_listed_from_it(staff):
    campaign = campaigns.create_campaign(name="BF", discount={"percent_off": 20})
    url = reverse("admin:coupons_campaign_generate", args=[campaign.pk])

    page = staff.get(url)
    response = staff.post(url, {"count": "7", "prefix": "BF-", "length": "8", "init_count": "1"})

    assert page.status_code == 200
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    codes = [row["code"] for row in csv.DictReader(io.StringIO(response.content.decode()))]
    assert len(codes) == 7
    assert set(Coupon.objects.filter(campaign=campaign).values_list("code", flat=True)) == set(
        codes
    )
    change = staff.get(reverse("admin:coupons_campaign_change", args=[campaign.pk])).content
    listing_url = reverse("admin:coupons_coupon_changelist") + f"?campaign__id__exact={campaign.pk}"
    assert listing_url.encode() in change
    Coupon.objects.create(code="OTHER", init_count=1, remaining_count=1)
    listing = staff.get(listing_url).content.decode()
    assert all(code in listing for code in codes) and "OTHER" not in listing


def test_the_list_shows_the_spend_and_the_actions_switch_campaigns(staff):
    campaign = campaigns.create_campaign(
        name="BF", discount={"amount_off": 500, "currency": "EUR"},
        budget={"amount": 1000, "currency": "EUR"},
    )  # fmt: skip
    code = create_coupon_batch(count=1, prefix="", length=8, init_count=2, campaign_id=campaign.pk)
    redemptions.redeem_coupon(code=code[0], order={"amount": 2000, "currency": "EUR"})
    changelist = reverse("admin:coupons_campaign_changelist")

    text = staff.get(changelist).content.decode()
    staff.post(changelist, {"action": "deactivate", "_selected_action": [str(campaign.pk)]})

    assert "500 / 1000 EUR" in text and 'class="spend"' in text
    campaign.refresh_from_db()
    assert campaign.is_active is False
    assert broken_campaign_counters() == []


def test_a_budget_below_the_spend_is_refused_on_the_form_and_the_counters_stay(staff):
    campaign = campaigns.create_campaign(
        name="BF", discount={"amount_off": 500, "currency": "EUR"},
        budget={"amount": 1000, "currency": "EUR"}, max_redemptions=10,
    )  # fmt: skip
    code = create_coupon_batch(count=1, prefix="", length=8, init_count=2, campaign_id=campaign.pk)
    url = reverse("admin:coupons_campaign_change", args=[campaign.pk])
    staff.get(url)  # the form is opened...
    redemptions.redeem_coupon(code=code[0], order={"amount": 2000, "currency": "EUR"})

    refused = staff.post(url, campaign_form(
        name="BF", discount_percent_off="", discount_amount_off="500",
        discount_max_amount_off="", budget_amount="400",
    ))  # fmt: skip
    renamed = staff.post(url, campaign_form(
        name="BF renamed", discount_percent_off="", discount_amount_off="500",
        discount_max_amount_off="", budget_amount="1000",
    ))  # fmt: skip

    assert refused.status_code == 200
    assert "Not saved" in refused.content.decode()
    assert renamed.status_code == 302, renamed.content.decode()[:3000]
    campaign.refresh_from_db()
    assert campaign.name == "BF renamed"
    assert (campaign.redemption_count, campaign.discount_total) == (1, 500)


def test_a_campaign_is_deleted_with_its_codes_unless_one_was_redeemed(staff):
    kept = campaigns.create_campaign(name="kept")
    gone = campaigns.create_campaign(name="gone")
    redeemed = create_coupon_batch(count=2, prefix="", length=8, init_count=1, campaign_id=kept.pk)
    create_coupon_batch(count=2, prefix="", length=8, init_count=1, campaign_id=gone.pk)
    redemptions.redeem_coupon(code=redeemed[0])

    refused = staff.post(reverse("admin:coupons_campaign_delete", args=[kept.pk]), {"post": "yes"})
    deleted = staff.post(reverse("admin:coupons_campaign_delete", args=[gone.pk]), {"post": "yes"})

    assert refused.status_code == 403
    assert deleted.status_code == 302
    assert list(Campaign.objects.values_list("name", flat=True)) == ["kept"]
    assert Coupon.objects.filter(campaign__isnull=True).count() == 0
    assert Coupon.objects.count() == 2
