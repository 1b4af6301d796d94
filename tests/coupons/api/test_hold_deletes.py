"""DELETE of a coupon or a campaign whose codes had holds: a live or confirmed hold refuses
it as a redemption does (409 has_redemptions, problem+json, never a 500); holds that
ended without a redemption (released, expired) go with the never-redeemed coupon."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from core.errors import HasRedemptions
from coupons.models import Campaign, Coupon, Reservation
from coupons.services import campaigns as campaign_service
from coupons.services import coupons as coupon_service
from coupons.services import reservations as reservation_service
from tests.campaigns import broken_campaign_counters
from tests.factories import amake_coupon, broken_invariants, make_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


async def hold(api, redeem, code: str) -> dict:
    response = await api.post("/v1/reservations/", json={"code": code}, headers=redeem)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_coupon_with_a_live_hold_is_not_deleted(api, manage, redeem):
    coupon = await amake_coupon("HELD-DEL", init_count=2)
    held = await hold(api, redeem, "HELD-DEL")

    response = await api.delete(f"/v1/coupons/{coupon.id}/", headers=manage)

    body = assert_problem(response, 409, "has_redemptions")
    assert "hold" in body["detail"]
    # The checkout goes on: its hold still confirms.
    confirmed = await api.post(f"/v1/reservations/{held['id']}/confirm/", headers=redeem)
    assert confirmed.status_code == 201, confirmed.text


async def test_a_coupon_whose_hold_was_confirmed_keeps_its_history(api, manage, redeem):
    coupon = await amake_coupon("DONE-DEL", init_count=2)
    held = await hold(api, redeem, "DONE-DEL")
    await api.post(f"/v1/reservations/{held['id']}/confirm/", headers=redeem)

    response = await api.delete(f"/v1/coupons/{coupon.id}/", headers=manage)

    assert_problem(response, 409, "has_redemptions")
    assert await Reservation.objects.filter(pk=held["id"]).aexists()


async def test_a_coupon_whose_hold_was_released_is_deleted_with_it(api, manage, redeem):
    coupon = await amake_coupon("GONE-DEL", init_count=2)
    held = await hold(api, redeem, "GONE-DEL")
    await api.post(f"/v1/reservations/{held['id']}/release/", headers=redeem)

    response = await api.delete(f"/v1/coupons/{coupon.id}/", headers=manage)

    assert response.status_code == 204, response.text
    assert not await Coupon.objects.filter(pk=coupon.id).aexists()
    assert not await Reservation.objects.filter(pk=held["id"]).aexists()
    missing = await api.get(f"/v1/reservations/{held['id']}/", headers=redeem)
    assert_problem(missing, 404, "not_found")


def test_a_campaign_code_with_an_unswept_expired_hold_is_deleted_and_the_campaign_gets_it_back():
    campaign = campaign_service.create_campaign(
        name="C", discount={"amount_off": 500, "currency": "EUR"}, max_redemptions=2,
        budget={"amount": 1000, "currency": "EUR"}, per_customer_limit=1,
    )  # fmt: skip
    doomed = make_coupon("EXP-DEL", init_count=3, campaign_id=campaign.id)
    make_coupon("EXP-KEEP", init_count=3, campaign_id=campaign.id)
    order = {"amount": 2000, "currency": "EUR"}
    start = timezone.now()
    reservation_service.hold_coupon(
        code="exp-del", customer_id="x", order=order, ttl_seconds=5, now=start
    )
    later = start + timedelta(seconds=5)
    # Expired, never swept: the campaign still counts its capacity, budget and slot.
    with pytest.raises(HasRedemptions):
        coupon_service.delete_coupon(doomed.id, now=start)
    coupon_service.delete_coupon(doomed.id, now=later)
    campaign = Campaign.objects.get(pk=campaign.id)
    assert (campaign.held_count, campaign.discount_total) == (0, 0)
    assert not Reservation.objects.exists()
    # Customer x's slot came back too: x can spend the campaign's other code.
    reservation_service.hold_coupon(code="exp-keep", customer_id="x", order=order, now=later)
    assert broken_invariants() == [] and broken_campaign_counters() == []


async def test_a_campaign_with_a_live_hold_is_not_deleted(api, manage, redeem):
    campaign = await sync_to_async(campaign_service.create_campaign)(name="C")
    await amake_coupon("CAMP-HELD", init_count=2, campaign_id=campaign.id)
    held = await hold(api, redeem, "CAMP-HELD")

    refused = await api.delete(f"/v1/campaigns/{campaign.id}/", headers=manage)

    assert_problem(refused, 409, "has_redemptions")
    assert await Coupon.objects.filter(code="CAMP-HELD").aexists()
    await api.post(f"/v1/reservations/{held['id']}/release/", headers=redeem)
    deleted = await api.delete(f"/v1/campaigns/{campaign.id}/", headers=manage)
    assert deleted.status_code == 204, deleted.text
    assert not await Campaign.objects.filter(pk=campaign.id).aexists()
    assert not await Reservation.objects.aexists()
