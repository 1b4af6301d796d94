"""Each change's event, written with it: its `data` is the object exactly as the API's GET
answers it after the change (one encoder, coupons.shapes), and a refused change writes
none."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from coupons.services import reservations as reservation_service
from events.models import Event
from tests.events.helpers import all_events, events_of, get
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

EUR_5_OFF = {"amount_off": 500, "currency": "EUR"}


async def create_coupon(api, manage, **fields):
    response = await api.post("/v1/coupons/", json={"init_count": 5, **fields}, headers=manage)
    assert response.status_code == 201, response.text
    return response.json()


async def redeem_code(api, headers, code, **body):
    response = await api.post("/v1/redemptions/", json={"code": code, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_coupon_s_create_edit_and_delete_are_events_with_its_api_answer(api, manage):
    created = await create_coupon(api, manage, code="EVT-1", metadata={"a": "b"})
    path = f"/v1/coupons/{created['id']}/"
    [event] = await events_of(api, manage, "coupon.created")
    assert event["data"] == created == await get(api, manage, path)
    assert set(event) == {"id", "type", "created_at", "data"}
    assert await get(api, manage, f"/v1/events/{event['id']}/") == event

    patched = await api.patch(path, json={"init_count": 7, "is_active": False}, headers=manage)
    assert patched.status_code == 200, patched.text
    [updated] = await events_of(api, manage, "coupon.updated")
    assert updated["data"] == patched.json() == await get(api, manage, path)

    last = await get(api, manage, path)
    assert (await api.delete(path, headers=manage)).status_code == 204
    [deleted] = await events_of(api, manage, "coupon.deleted")
    assert deleted["data"] == last
    assert [e["type"] for e in await all_events(api, manage)] == [
        "coupon.created", "coupon.updated", "coupon.deleted",
    ]  # fmt: skip


async def test_a_batch_writes_one_coupon_created_per_code(api, manage):
    response = await api.post(
        "/v1/coupons/batch/",
        json={"count": 3, "init_count": 2, "prefix": "B-", "length": 6},
        headers=manage,
    )
    assert response.status_code == 201, response.text
    events = await events_of(api, manage, "coupon.created")
    assert sorted(e["data"]["code"] for e in events) == sorted(response.json()["codes"])
    for event in events:
        assert event["data"] == await get(api, manage, f"/v1/coupons/{event['data']['id']}/")


async def test_a_redemption_and_its_revert_are_events_with_the_api_answer(api, manage, redeem):
    await create_coupon(api, manage, code="EVT-R", discount=EUR_5_OFF)
    body = {"customer_id": "c-1", "order_id": "o-1", "metadata": {"k": "v"},
            "order": {"amount": 1999, "currency": "EUR"}}  # fmt: skip
    redemption = await redeem_code(api, redeem, "evt-r", **body)
    path = f"/v1/redemptions/{redemption['id']}/"
    [created] = await events_of(api, manage, "redemption.created")
    assert created["data"] == redemption == await get(api, manage, path)

    reverted = await api.post(f"{path}revert/", headers=manage)
    assert reverted.status_code == 200, reverted.text
    [event] = await events_of(api, manage, "redemption.reverted")
    assert event["data"] == reverted.json() == await get(api, manage, path)


async def test_the_redemption_of_the_last_use_is_followed_by_coupon_exhausted(api, manage, redeem):
    coupon = await create_coupon(api, manage, code="EVT-LAST", init_count=2)
    await redeem_code(api, redeem, "EVT-LAST")
    assert await events_of(api, manage, "coupon.exhausted") == []
    last = await redeem_code(api, redeem, "EVT-LAST")

    [exhausted] = await events_of(api, manage, "coupon.exhausted")
    assert exhausted["data"] == await get(api, manage, f"/v1/coupons/{coupon['id']}/")
    assert exhausted["data"]["remaining_count"] == 0
    types = [e["type"] for e in await all_events(api, manage)]
    assert types[-2:] == ["redemption.created", "coupon.exhausted"]
    redeemed = await events_of(api, manage, "redemption.created")
    assert redeemed[-1]["data"] == last


async def test_a_refused_change_writes_no_event(api, manage, redeem):
    await create_coupon(api, manage, code="EVT-NO", init_count=1)
    await redeem_code(api, redeem, "EVT-NO")
    before = await sync_to_async(Event.objects.count)()

    refused = [
        await api.post("/v1/redemptions/", json={"code": "EVT-NO"}, headers=redeem),
        await api.post("/v1/reservations/", json={"code": "EVT-NO"}, headers=redeem),
        await api.post("/v1/coupons/", json={"code": "evt-no", "init_count": 1}, headers=manage),
    ]
    coupon_id = (await get(api, manage, "/v1/coupons/?code=EVT-NO"))["results"][0]["id"]
    refused.append(
        await api.patch(f"/v1/coupons/{coupon_id}/", json={"init_count": 0}, headers=manage)
    )
    refused.append(await api.delete(f"/v1/coupons/{coupon_id}/", headers=manage))

    assert [r.status_code for r in refused] == [409, 409, 409, 400, 409]
    assert await sync_to_async(Event.objects.count)() == before


async def test_a_hold_s_life_is_events_with_the_api_answer(api, manage, redeem):
    await create_coupon(api, manage, code="EVT-H")
    held = (await api.post("/v1/reservations/", json={"code": "EVT-H"}, headers=redeem)).json()
    path = f"/v1/reservations/{held['id']}/"
    [created] = await events_of(api, manage, "reservation.created")
    assert created["data"] == held == await get(api, redeem, path)

    confirmed = await api.post(f"{path}confirm/", headers=redeem)
    assert confirmed.status_code == 201, confirmed.text
    [event] = await events_of(api, manage, "reservation.confirmed")
    assert event["data"] == await get(api, redeem, path)
    assert event["data"]["status"] == "confirmed"
    [redeemed] = await events_of(api, manage, "redemption.created")
    assert redeemed["data"] == confirmed.json()

    other = (await api.post("/v1/reservations/", json={"code": "EVT-H"}, headers=redeem)).json()
    released = await api.post(f"/v1/reservations/{other['id']}/release/", headers=redeem)
    assert released.status_code == 200, released.text
    [event] = await events_of(api, manage, "reservation.released")
    assert event["data"] == released.json()


async def test_a_hold_swept_or_reclaimed_after_expiry_is_reservation_expired(api, manage, redeem):
    coupon = await create_coupon(api, manage, code="EVT-X", init_count=1)
    start = timezone.now() - timedelta(seconds=10)
    hold = await sync_to_async(reservation_service.hold_coupon)(
        code="EVT-X", ttl_seconds=1, now=start
    )
    # The hold took the last use: coupon.exhausted, as a redemption would.
    [exhausted] = await events_of(api, manage, "coupon.exhausted")
    assert exhausted["data"]["remaining_count"] == 0
    # A redemption refused for want of uses gives the expired hold back itself.
    await redeem_code(api, redeem, "EVT-X")

    [expired] = await events_of(api, manage, "reservation.expired")
    assert expired["data"] == await get(api, redeem, f"/v1/reservations/{hold.id}/")
    assert expired["data"]["status"] == "expired"
    # And the redemption took the last use again.
    assert len(await events_of(api, manage, "coupon.exhausted")) == 2
    assert (await get(api, manage, f"/v1/coupons/{coupon['id']}/"))["remaining_count"] == 0


async def test_the_sweeper_writes_reservation_expired(api, manage, redeem):
    await create_coupon(api, manage, code="EVT-S")
    start = timezone.now() - timedelta(seconds=10)
    hold = await sync_to_async(reservation_service.hold_coupon)(
        code="EVT-S", ttl_seconds=1, now=start
    )
    assert await sync_to_async(reservation_service.sweep_expired_holds)() == 1

    [expired] = await events_of(api, manage, "reservation.expired")
    assert expired["data"] == await get(api, redeem, f"/v1/reservations/{hold.id}/")


async def test_a_campaign_s_life_and_its_budget_exhausted_are_events(api, manage, redeem):
    response = await api.post(
        "/v1/campaigns/",
        json={"name": "E", "discount": EUR_5_OFF, "budget": {"amount": 1000, "currency": "EUR"}},
        headers=manage,
    )
    assert response.status_code == 201, response.text
    campaign = response.json()
    path = f"/v1/campaigns/{campaign['id']}/"
    [created] = await events_of(api, manage, "campaign.created")
    assert created["data"] == campaign == await get(api, manage, path)

    patched = await api.patch(path, json={"name": "E2"}, headers=manage)
    [updated] = await events_of(api, manage, "campaign.updated")
    assert updated["data"] == patched.json() == await get(api, manage, path)

    await create_coupon(api, manage, code="EVT-C", campaign_id=campaign["id"])
    order = {"amount": 2000, "currency": "EUR"}
    await redeem_code(api, redeem, "EVT-C", order=order)
    assert await events_of(api, manage, "campaign.budget_exhausted") == []
    await redeem_code(api, redeem, "EVT-C", order=order)
    [spent] = await events_of(api, manage, "campaign.budget_exhausted")
    assert spent["data"] == await get(api, manage, path)
    assert spent["data"]["budget_remaining"] == 0

    refused = await api.post(
        "/v1/redemptions/", json={"code": "EVT-C", "order": order}, headers=redeem
    )
    assert_problem(refused, 409, "budget_exhausted")
    assert len(await events_of(api, manage, "campaign.budget_exhausted")) == 1


async def test_deleting_a_campaign_writes_its_codes_and_its_own_deletion(api, manage):
    response = await api.post("/v1/campaigns/", json={"name": "D"}, headers=manage)
    campaign = response.json()
    code = await create_coupon(api, manage, code="EVT-D", campaign_id=campaign["id"])
    last = await get(api, manage, f"/v1/campaigns/{campaign['id']}/")
    assert (await api.delete(f"/v1/campaigns/{campaign['id']}/", headers=manage)).status_code == 204

    [deleted] = await events_of(api, manage, "campaign.deleted")
    assert deleted["data"] == last
    [gone] = await events_of(api, manage, "coupon.deleted")
    assert gone["data"] == code


async def test_a_hold_or_a_patch_that_leaves_no_budget_is_budget_exhausted(api, manage, redeem):
    response = await api.post(
        "/v1/campaigns/",
        json={"name": "H", "discount": EUR_5_OFF, "budget": {"amount": 1000, "currency": "EUR"}},
        headers=manage,
    )
    campaign = response.json()
    path = f"/v1/campaigns/{campaign['id']}/"
    await create_coupon(api, manage, code="EVT-HB", campaign_id=campaign["id"])
    order = {"amount": 2000, "currency": "EUR"}
    await redeem_code(api, redeem, "EVT-HB", order=order)
    hold = await api.post(
        "/v1/reservations/", json={"code": "EVT-HB", "order": order}, headers=redeem
    )
    assert hold.status_code == 201, hold.text
    [by_hold] = await events_of(api, manage, "campaign.budget_exhausted")
    assert by_hold["data"] == await get(api, manage, path)
    assert by_hold["data"]["held_count"] == 1 and by_hold["data"]["budget_remaining"] == 0

    released = await api.post(f"/v1/reservations/{hold.json()['id']}/release/", headers=redeem)
    assert released.status_code == 200
    # 500 left of 1000: a budget lowered to what was given leaves none.
    patched = await api.patch(path, json={"budget": {"amount": 500, "currency": "EUR"}},
                              headers=manage)  # fmt: skip
    assert patched.status_code == 200, patched.text
    by_patch = (await events_of(api, manage, "campaign.budget_exhausted"))[-1]
    assert by_patch["data"] == patched.json()
    assert len(await events_of(api, manage, "campaign.budget_exhausted")) == 2
    # A PATCH of a campaign already at 0 writes campaign.updated only.
    await api.patch(path, json={"name": "H2"}, headers=manage)
    assert len(await events_of(api, manage, "campaign.budget_exhausted")) == 2


# A PATCH whose values are the stored ones is no change: no UPDATE, no event, updated_at kept.

FULL_COUPON = {
    "code": "EVT-SAME", "init_count": 5, "is_active": True, "per_customer_limit": 2,
    "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z",
    "discount": {"percent_off": 12.50, "currency": "EUR", "max_amount_off": 500},
    "metadata": {"a": "b"},
}  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"is_active": True},
        {"discount": {"percent_off": 12.5, "currency": "EUR", "max_amount_off": 500}},
        {"metadata": {}},
        {"metadata": {"a": "b"}},
        {"init_count": 5},
        {"per_customer_limit": 2},
        {"starts_at": "2026-01-01T01:00:00+01:00"},  # the same instant
        {
            "is_active": True,
            "init_count": 5,
            "metadata": {},
            "expires_at": "2099-01-01T00:00:00.000Z",
        },
    ],
)
async def test_a_coupon_patch_that_changes_nothing_writes_nothing(api, manage, body):
    created = await create_coupon(api, manage, **FULL_COUPON)
    path = f"/v1/coupons/{created['id']}/"
    events = await sync_to_async(Event.objects.count)()

    patched = await api.patch(path, json=body, headers=manage)

    assert patched.status_code == 200, patched.text
    assert patched.json() == created == await get(api, manage, path)  # updated_at kept
    assert await sync_to_async(Event.objects.count)() == events


async def test_a_coupon_patch_with_one_real_change_among_the_same_values_writes_it(api, manage):
    created = await create_coupon(api, manage, **FULL_COUPON)
    path = f"/v1/coupons/{created['id']}/"

    patched = await api.patch(path, json={"is_active": True, "init_count": 6}, headers=manage)

    assert patched.json()["init_count"] == 6 and patched.json()["remaining_count"] == 6
    assert patched.json()["updated_at"] > created["updated_at"]
    [updated] = await events_of(api, manage, "coupon.updated")
    assert updated["data"] == patched.json()


SAME_CAMPAIGN = {
    "name": "Same", "is_active": True, "per_customer_limit": 1, "max_redemptions": 10,
    "starts_at": None, "expires_at": "2099-01-01T00:00:00Z",
    "discount": {"percent_off": 20, "currency": "EUR", "max_amount_off": 1500},
    "budget": {"amount": 5000, "currency": "EUR"}, "metadata": {"k": "v"},
}  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Same"},
        {"is_active": True},
        {"discount": {"percent_off": 20.0, "currency": "EUR", "max_amount_off": 1500}},
        {"budget": {"amount": 5000, "currency": "EUR"}},
        {"metadata": {}},
        {"max_redemptions": 10, "per_customer_limit": 1},
        {"starts_at": None, "expires_at": "2098-12-31T19:00:00-05:00"},  # the same instant
        SAME_CAMPAIGN,
    ],
)
async def test_a_campaign_patch_that_changes_nothing_writes_nothing(api, manage, body):
    response = await api.post("/v1/campaigns/", json=SAME_CAMPAIGN, headers=manage)
    assert response.status_code == 201, response.text
    created = response.json()
    path = f"/v1/campaigns/{created['id']}/"
    events = await sync_to_async(Event.objects.count)()

    patched = await api.patch(path, json=body, headers=manage)

    assert patched.status_code == 200, patched.text
    assert patched.json() == created == await get(api, manage, path)  # updated_at kept
    assert await sync_to_async(Event.objects.count)() == events
