"""Several codes held on one order through the ASGI app: /v1/reservation-groups/ holds them
all or none, confirms them into one redemption group or releases them together, with the
refusals of one hold, idempotent replays and events per member. Expiry is reached by
moving the group's clock back in the database, never by sleeping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db.models import F

from coupons.models import (
    Campaign,
    Coupon,
    Redemption,
    RedemptionGroup,
    Reservation,
    ReservationGroup,
)
from coupons.services.reservations import sweep_expired_holds
from events.models import Event
from tests.campaigns import broken_campaign_counters
from tests.coupons.api.test_groups import ALL10, CART, SHOES20, create, create_campaign
from tests.factories import broken_invariants
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

GROUP_FIELDS = {
    "id", "codes", "customer_id", "order_id", "order", "discount_amount",
    "amount_after_discount", "shipping_discount_amount", "shipping_amount_after_discount",
    "currency", "allocations", "status", "expires_at", "redemption_group_id", "reservations",
    "created_at",
}  # fmt: skip


async def hold_group(api, redeem, codes, order=CART, headers=None, **fields):
    return await api.post(
        "/v1/reservation-groups/",
        json={"codes": codes, "order": order, **fields},
        headers={**redeem, **(headers or {})},
    )


async def settle(api, redeem, group_id: str, action: str, **headers: str):
    return await api.post(
        f"/v1/reservation-groups/{group_id}/{action}/", headers={**redeem, **headers}
    )


def counts() -> dict[str, tuple[int, int]]:
    return {c.code: (c.remaining_count, c.held_count) for c in Coupon.objects.all()}


def healthy() -> list[str]:
    return broken_invariants() + broken_campaign_counters()


def event_groups(type_: str) -> list[str | None]:
    return [e.data["group_id"] for e in Event.objects.filter(type=type_).order_by("created_at")]


def age(group_id: str, by: timedelta = timedelta(hours=1)) -> None:
    """Move a group and its holds back in time: past their expiry, unswept."""
    moved = {"created_at": F("created_at") - by, "expires_at": F("expires_at") - by}
    ReservationGroup.objects.filter(pk=group_id).update(**moved)
    Reservation.objects.filter(group__pk=group_id).update(**moved)


acounts, ahealthy = sync_to_async(counts), sync_to_async(healthy)
aevent_groups, aage = sync_to_async(event_groups), sync_to_async(age)


async def worked_example(api, manage) -> dict:
    """SHOES20 (a coupon) and ALL10 (a campaign's code, with a budget), as in the contract."""
    await create(api, manage, "SHOES20", SHOES20)
    campaign = await create_campaign(
        api, manage, discount={**ALL10, "currency": "EUR"},
        budget={"amount": 10_000, "currency": "EUR"},
    )  # fmt: skip
    await create(api, manage, "ALL10", campaign_id=campaign["id"])
    return campaign


async def test_a_group_holds_every_code_with_its_own_discount(api, manage, redeem):
    campaign = await worked_example(api, manage)
    response = await hold_group(api, redeem, ["all10", "SHOES20"], customer_id="c-1",
                                order_id="o-1", ttl_seconds=120)  # fmt: skip
    body = response.json()
    assert response.status_code == 201, body
    assert set(body) == GROUP_FIELDS
    assert response.headers["Location"].endswith(f"/v1/reservation-groups/{body['id']}/")
    assert (body["status"], body["redemption_group_id"]) == ("held", None)
    assert (body["discount_amount"], body["amount_after_discount"]) == (2080, 7920)
    members = body["reservations"]
    assert [(m["code"], m["discount_amount"], m["status"]) for m in members] == [
        ("SHOES20", 1200, "held"), ("ALL10", 880, "held")
    ]  # fmt: skip
    assert [a["amount"] for a in members[1]["allocations"]] == [480, 400]
    assert {m["group_id"] for m in members} == {body["id"]}
    assert {m["expires_at"] for m in members} == {body["expires_at"]}
    assert await acounts() == {"SHOES20": (9, 1), "ALL10": (9, 1)}
    row = await Campaign.objects.aget(pk=campaign["id"])
    assert (row.held_count, row.redemption_count, row.discount_total) == (1, 0, 880)
    read = await api.get(f"/v1/reservation-groups/{body['id']}/", headers=redeem)
    assert read.json() == body
    single = await api.get(f"/v1/reservations/{members[0]['id']}/", headers=redeem)
    assert single.json()["group_id"] == body["id"]
    assert await aevent_groups("reservation.created") == [body["id"]] * 2
    assert await ahealthy() == []


async def test_a_confirm_turns_every_hold_into_one_redemption_group(api, manage, redeem):
    campaign = await worked_example(api, manage)
    held = (await hold_group(api, redeem, ["SHOES20", "ALL10"], customer_id="c-1")).json()

    confirmed = await settle(api, redeem, held["id"], "confirm")

    body = confirmed.json()
    assert confirmed.status_code == 201, body
    assert confirmed.headers["Location"].endswith(f"/v1/redemption-groups/{body['id']}/")
    assert body["discount_amount"] == 2080 and body["codes"] == ["SHOES20", "ALL10"]
    assert [(m["code"], m["discount_amount"]) for m in body["redemptions"]] == [
        ("SHOES20", 1200), ("ALL10", 880)
    ]  # fmt: skip
    assert {m["group_id"] for m in body["redemptions"]} == {body["id"]}
    assert await acounts() == {"SHOES20": (9, 0), "ALL10": (9, 0)}
    row = await Campaign.objects.aget(pk=campaign["id"])
    assert (row.held_count, row.redemption_count, row.discount_total) == (0, 1, 880)
    group = (await api.get(f"/v1/reservation-groups/{held['id']}/", headers=redeem)).json()
    assert (group["status"], group["redemption_group_id"]) == ("confirmed", body["id"])
    assert [m["redemption_id"] for m in group["reservations"]] == [
        m["id"] for m in body["redemptions"]
    ]
    read = await api.get(f"/v1/redemption-groups/{body['id']}/", headers=redeem)
    assert read.json() == body
    assert await aevent_groups("reservation.confirmed") == [held["id"]] * 2
    assert await aevent_groups("redemption.created") == [body["id"]] * 2
    assert await ahealthy() == []
    for action in ("confirm", "release"):
        again = await settle(api, redeem, held["id"], action)
        assert_problem(again, 409, "already_confirmed")
    # The redemption group it became reverts as any other.
    reverted = await api.post(f"/v1/redemption-groups/{body['id']}/revert/", headers=redeem)
    assert reverted.status_code == 200, reverted.text
    assert await acounts() == {"SHOES20": (10, 0), "ALL10": (10, 0)}
    assert await ahealthy() == []


async def test_a_release_gives_every_use_back_once(api, manage, redeem):
    campaign = await worked_example(api, manage)
    held = (await hold_group(api, redeem, ["SHOES20", "ALL10"], customer_id="c-1")).json()

    released = await settle(api, redeem, held["id"], "release")

    body = released.json()
    assert released.status_code == 200, body
    assert body["status"] == "released"
    assert [m["status"] for m in body["reservations"]] == ["released", "released"]
    assert await acounts() == {"SHOES20": (10, 0), "ALL10": (10, 0)}
    row = await Campaign.objects.aget(pk=campaign["id"])
    assert (row.held_count, row.discount_total) == (0, 0)
    assert await aevent_groups("reservation.released") == [held["id"]] * 2
    for action in ("release", "confirm"):
        assert_problem(await settle(api, redeem, held["id"], action), 409, "reservation_released")
    assert await acounts() == {"SHOES20": (10, 0), "ALL10": (10, 0)}
    assert await ahealthy() == []


async def test_an_expired_group_cannot_be_settled_and_its_uses_come_back(api, manage, redeem):
    await worked_example(api, manage)
    held = (await hold_group(api, redeem, ["SHOES20", "ALL10"], customer_id="c-1")).json()
    await aage(held["id"])

    read = (await api.get(f"/v1/reservation-groups/{held['id']}/", headers=redeem)).json()
    assert read["status"] == "expired"
    assert {m["status"] for m in read["reservations"]} == {"expired"}
    # Unswept: the refused confirm gives the expired holds back itself.
    assert_problem(await settle(api, redeem, held["id"], "confirm"), 409, "reservation_expired")
    assert await acounts() == {"SHOES20": (10, 0), "ALL10": (10, 0)}
    assert_problem(await settle(api, redeem, held["id"], "release"), 409, "reservation_expired")
    assert await ahealthy() == []


async def test_expired_group_holds_are_swept_like_single_holds(api, manage, redeem):
    await worked_example(api, manage)
    held = (await hold_group(api, redeem, ["SHOES20", "ALL10"], customer_id="c-1")).json()
    await aage(held["id"])

    assert await sync_to_async(sweep_expired_holds)() == 2

    assert await acounts() == {"SHOES20": (10, 0), "ALL10": (10, 0)}
    assert await aevent_groups("reservation.expired") == [held["id"]] * 2
    assert await ahealthy() == []
    assert_problem(await settle(api, redeem, held["id"], "confirm"), 409, "reservation_expired")


async def test_an_expired_group_never_keeps_a_use_from_anyone(api, manage, redeem):
    await create(api, manage, "LAST", init_count=1)
    await create(api, manage, "OTHER")
    held = (await hold_group(api, redeem, ["LAST", "OTHER"], order=None)).json()
    refused = await hold_group(api, redeem, ["OTHER", "LAST"], order=None)
    assert assert_problem(refused, 409, "coupon_exhausted")["details"] == {"code": "LAST"}
    await aage(held["id"])

    # Not swept: the group refused for want of a use gives the expired holds back first.
    again = await api.post(
        "/v1/redemption-groups/", json={"codes": ["OTHER", "LAST"]}, headers=redeem
    )

    assert again.status_code == 201, again.text
    assert await acounts() == {"LAST": (0, 0), "OTHER": (9, 0)}
    assert await ahealthy() == []


async def test_a_refused_code_refuses_the_group_and_holds_nothing(api, manage, redeem):
    await create(api, manage, "SHOES20", SHOES20)
    await create(api, manage, "ALL10", ALL10, init_count=1)
    await create(api, manage, "PLAIN", {"percent_off": 5})
    assert (await hold_group(api, redeem, ["SHOES20", "ALL10"])).status_code == 201
    before = await acounts()

    exhausted = await hold_group(api, redeem, ["SHOES20", "ALL10"])
    assert assert_problem(exhausted, 409, "coupon_exhausted")["details"] == {"code": "ALL10"}
    clash = await hold_group(api, redeem, ["PLAIN", "SHOES20"])
    assert assert_problem(clash, 409, "not_combinable")["details"] == {"code": "PLAIN"}
    unknown = await hold_group(api, redeem, ["SHOES20", "NOPE"])
    assert assert_problem(unknown, 404, "coupon_not_found")["details"] == {"code": "NOPE"}
    no_order = await hold_group(api, redeem, ["SHOES20"], order=None)
    assert assert_problem(no_order, 400, "order_required")["details"] == {"code": "SHOES20"}

    assert await acounts() == before
    assert await ReservationGroup.objects.acount() == 1
    assert await Reservation.objects.acount() == 2
    assert await ahealthy() == []


async def test_a_held_group_counts_against_the_budget_and_the_customer_limit(api, manage, redeem):
    campaign = await create_campaign(
        api, manage, discount={**ALL10, "currency": "EUR"}, per_customer_limit=1,
        budget={"amount": 2000, "currency": "EUR"},
    )  # fmt: skip
    await create(api, manage, "BF-1", campaign_id=campaign["id"])
    await create(api, manage, "SHOES20", SHOES20)
    held = (await hold_group(api, redeem, ["BF-1", "SHOES20"], customer_id="c-1")).json()
    limited = await hold_group(api, redeem, ["BF-1", "SHOES20"], customer_id="c-1")
    assert assert_problem(limited, 409, "customer_limit_reached")["details"] == {"code": "BF-1"}
    assert (await hold_group(api, redeem, ["BF-1", "SHOES20"], customer_id="c-2")).is_success
    # 2 x 880 of 2000 held: another 880 does not fit.
    over = await hold_group(api, redeem, ["BF-1", "SHOES20"], customer_id="c-3")
    assert assert_problem(over, 409, "budget_exhausted")["details"] == {"code": "BF-1"}
    await settle(api, redeem, held["id"], "release")
    again = await hold_group(api, redeem, ["BF-1", "SHOES20"], customer_id="c-3")
    assert again.status_code == 201, again.text
    assert await ahealthy() == []


async def test_a_member_hold_is_settled_only_with_its_group(api, manage, redeem):
    await worked_example(api, manage)
    held = (await hold_group(api, redeem, ["SHOES20", "ALL10"])).json()
    member = held["reservations"][0]["id"]
    for action in ("confirm", "release"):
        response = await api.post(f"/v1/reservations/{member}/{action}/", headers=redeem)
        assert_problem(response, 409, "held_in_group")
    assert await acounts() == {"SHOES20": (9, 1), "ALL10": (9, 1)}
    assert (await settle(api, redeem, held["id"], "confirm")).status_code == 201
    confirmed = await api.post(f"/v1/reservations/{member}/confirm/", headers=redeem)
    assert_problem(confirmed, 409, "already_confirmed")


async def test_every_post_is_idempotent_and_replayed_byte_for_byte(api, manage, redeem):
    await worked_example(api, manage)
    body = {"codes": ["SHOES20", "ALL10"], "order": CART, "customer_id": "c-1"}
    key = {**redeem, "Idempotency-Key": "hold-1"}
    first = await api.post("/v1/reservation-groups/", json=body, headers=key)
    again = await api.post("/v1/reservation-groups/", json=body, headers=key)
    assert first.status_code == 201 and again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert await Reservation.objects.acount() == 2
    other = await api.post("/v1/reservation-groups/", json={**body, "ttl_seconds": 5}, headers=key)
    assert_problem(other, 422, "idempotency_key_reused")

    group_id = first.json()["id"]
    confirm = [await settle(api, redeem, group_id, "confirm", **{"Idempotency-Key": "c-1"})
               for _ in range(2)]  # fmt: skip
    assert confirm[0].status_code == 201 and confirm[1].content == confirm[0].content
    assert await RedemptionGroup.objects.acount() == 1
    assert await Redemption.objects.acount() == 2

    second = (await hold_group(api, redeem, ["SHOES20", "ALL10"])).json()
    release = [await settle(api, redeem, second["id"], "release", **{"Idempotency-Key": "r-1"})
               for _ in range(2)]  # fmt: skip
    assert release[0].status_code == 200 and release[1].content == release[0].content
    assert await acounts() == {"SHOES20": (9, 0), "ALL10": (9, 0)}
    # A refusal is kept and replayed too.
    refused = [await settle(api, redeem, second["id"], "release", **{"Idempotency-Key": "r-2"})
               for _ in range(2)]  # fmt: skip
    assert_problem(refused[0], 409, "reservation_released")
    assert refused[1].content == refused[0].content
    assert await ahealthy() == []


async def test_unknown_groups_are_404(api, redeem):
    unknown = "6f1c2b9e-0000-4000-8000-000000000000"
    assert_problem(
        await api.get(f"/v1/reservation-groups/{unknown}/", headers=redeem), 404, "not_found"
    )
    for action in ("confirm", "release"):
        assert_problem(await settle(api, redeem, unknown, action), 404, "not_found")
    assert_problem(
        await api.get("/v1/reservation-groups/not-a-uuid/", headers=redeem), 404, "not_found"
    )


@pytest.mark.parametrize(
    "fields",
    [{"codes": []}, {"codes": ["a", "A"]}, {"codes": ["A", "B", "C", "D", "E", "F"]},
     {"codes": "A"}, {"code": "A"}, {"codes": ["A"], "ttl_seconds": 0},
     {"codes": ["A"], "ttl_seconds": 86_401}, {"codes": ["A"], "ttl_seconds": "60"},
     {"codes": ["A"], "colour": "red"}],
)  # fmt: skip
async def test_bad_bodies_are_400(api, redeem, fields):
    response = await api.post("/v1/reservation-groups/", json=fields, headers=redeem)
    assert_problem(response, 400, "validation_error")


async def test_confirm_and_release_take_no_fields(api, manage, redeem):
    await create(api, manage, "A")
    held = (await hold_group(api, redeem, ["A"], order=None)).json()
    response = await api.post(
        f"/v1/reservation-groups/{held['id']}/confirm/", json={"x": 1}, headers=redeem
    )
    assert_problem(response, 400, "validation_error")


async def test_no_key_is_a_401(api):
    assert (await api.post("/v1/reservation-groups/", json={"codes": ["A"]})).status_code == 401
