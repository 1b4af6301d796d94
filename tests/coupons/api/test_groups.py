"""Several codes on one order through the ASGI app: combines_with, validations with
`codes`, and redemption groups (all or none, refusals naming the code, revert,
idempotency, events per member)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from coupons.models import Campaign, Coupon, Redemption, RedemptionGroup
from events.models import Event
from tests.campaigns import broken_campaign_counters
from tests.factories import broken_invariants
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

ALONE = {"order": False, "product": False, "shipping": False}
SHOES20 = {"percent_off": 20, "applies_to": {"categories": ["shoes"]},
           "combines_with": {"order": True}}  # fmt: skip
ALL10 = {"percent_off": 10, "combines_with": {"product": True}}
FREE_SHIPPING = {"percent_off": 100, "target": "shipping",
                 "combines_with": {"order": True, "product": True}}  # fmt: skip
CART = {
    "currency": "EUR",
    "lines": [
        {"id": "shoes", "categories": ["shoes"], "quantity": 1, "unit_amount": 6000},
        {"id": "hats", "categories": ["hats"], "quantity": 1, "unit_amount": 4000},
    ],
}


async def create(api, manage, code: str, discount: dict | None = None, **fields) -> dict:
    response = await api.post(
        "/v1/coupons/",
        json={"code": code, "init_count": 10, "discount": discount, **fields},
        headers=manage,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def create_campaign(api, manage, **fields) -> dict:
    response = await api.post("/v1/campaigns/", json={"name": "C", **fields}, headers=manage)
    assert response.status_code == 201, response.text
    return response.json()


async def redeem_group(api, redeem, codes, order=CART, **fields):
    return await api.post(
        "/v1/redemption-groups/",
        json={"codes": codes, "order": order, **fields},
        headers=redeem,
    )


def counts():
    return {c.code: c.remaining_count for c in Coupon.objects.all()}


acounts = sync_to_async(counts)


# combines_with


async def test_combines_with_is_stored_and_returned_whole(api, manage):
    created = await create(api, manage, "SHOES20", SHOES20)
    assert created["discount"]["combines_with"] == {**ALONE, "order": True}
    plain = await create(api, manage, "PLAIN", {"percent_off": 5})
    assert plain["discount"]["combines_with"] == ALONE
    again = await api.get(f"/v1/coupons/{created['id']}/", headers=manage)
    assert again.json()["discount"]["combines_with"] == {**ALONE, "order": True}
    campaign = await create_campaign(api, manage, discount=ALL10)
    assert campaign["discount"]["combines_with"] == {**ALONE, "product": True}


async def test_a_bad_combines_with_is_a_400_naming_it(api, manage):
    for bad in ({"orders": True}, {"order": "yes"}, ["order"]):
        response = await api.post(
            "/v1/coupons/",
            json={"code": "BAD", "init_count": 1, "discount": {"percent_off": 5,
                                                                "combines_with": bad}},
            headers=manage,
        )  # fmt: skip
        errors = assert_problem(response, 400, "validation_error")["errors"]
        assert any("combines_with" in key for key in errors), errors


# Validations with codes


async def test_the_worked_example_validates_to_2080(api, manage, redeem):
    await create(api, manage, "SHOES20", SHOES20)
    await create(api, manage, "ALL10", ALL10)
    response = await api.post(
        "/v1/validations/", json={"codes": ["all10", "SHOES20"], "order": CART}, headers=redeem
    )
    body = response.json()
    assert response.status_code == 200, body
    assert (body["valid"], body["reason"], body["discount_amount"]) == (True, None, 2080)
    assert body["amount_after_discount"] == 7920
    assert [a["amount"] for a in body["allocations"]] == [1680, 400]
    assert [(r["code"], r["discount_amount"]) for r in body["results"]] == [
        ("SHOES20", 1200), ("ALL10", 880)
    ]  # fmt: skip
    assert [a["amount"] for a in body["results"][1]["allocations"]] == [480, 400]


async def test_codes_that_do_not_combine_are_not_valid(api, manage, redeem):
    await create(api, manage, "SHOES20", SHOES20)
    await create(api, manage, "PLAIN", {"percent_off": 5})
    response = await api.post(
        "/v1/validations/", json={"codes": ["PLAIN", "SHOES20"], "order": CART}, headers=redeem
    )
    body = response.json()
    assert (body["valid"], body["reason"]) == (False, "not_combinable")
    assert body["discount_amount"] is None
    assert [(r["code"], r["valid"], r["reason"]) for r in body["results"]] == [
        ("SHOES20", True, None), ("PLAIN", False, "not_combinable")
    ]  # fmt: skip


async def test_the_first_refused_code_gives_the_reason(api, manage, redeem):
    await create(api, manage, "ALL10", ALL10)
    response = await api.post(
        "/v1/validations/", json={"codes": ["ALL10", "NOPE"], "order": CART}, headers=redeem
    )
    body = response.json()
    assert (body["valid"], body["reason"]) == (False, "coupon_not_found")


@pytest.mark.parametrize(
    "fields",
    [{"code": "A", "codes": ["B"]}, {}, {"codes": []}, {"codes": ["a", "A"]},
     {"codes": ["A", "B", "C", "D", "E", "F"]}],
)  # fmt: skip
async def test_codes_and_code_are_one_or_the_other(api, redeem, fields):
    response = await api.post("/v1/validations/", json=fields, headers=redeem)
    assert_problem(response, 400, "validation_error")


async def test_one_code_validates_as_before(api, manage, redeem):
    await create(api, manage, "ALL10", ALL10)
    response = await api.post(
        "/v1/validations/", json={"code": "ALL10", "order": CART}, headers=redeem
    )
    assert response.json()["discount_amount"] == 1000 and "results" not in response.json()


# Redemption groups


async def test_a_group_redeems_the_worked_example_all_at_once(api, manage, redeem):
    await create(api, manage, "SHOES20", SHOES20)
    await create(api, manage, "ALL10", ALL10)
    await create(api, manage, "COUNTED")
    response = await redeem_group(api, redeem, ["ALL10", "counted", "SHOES20"],
                                  customer_id="c-1", order_id="o-1")  # fmt: skip
    body = response.json()
    assert response.status_code == 201, body
    assert response.headers["Location"].endswith(f"/v1/redemption-groups/{body['id']}/")
    assert body["codes"] == ["ALL10", "counted", "SHOES20"]
    assert (body["discount_amount"], body["amount_after_discount"]) == (2080, 7920)
    members = body["redemptions"]
    assert [(m["code"], m["discount_amount"]) for m in members] == [
        ("SHOES20", 1200), ("ALL10", 880), ("COUNTED", None)
    ]  # fmt: skip
    assert {m["group_id"] for m in members} == {body["id"]}
    assert await acounts() == {"SHOES20": 9, "ALL10": 9, "COUNTED": 9}
    read = await api.get(f"/v1/redemption-groups/{body['id']}/", headers=redeem)
    assert read.json() == body
    single = await api.get(f"/v1/redemptions/{members[0]['id']}/", headers=redeem)
    assert single.json()["group_id"] == body["id"]
    types = await sync_to_async(
        lambda: [(e.type, e.data["group_id"]) for e in Event.objects.filter(
            type="redemption.created").order_by("created_at")]
    )()  # fmt: skip
    assert types == [("redemption.created", body["id"])] * 3
    assert await sync_to_async(broken_invariants)() == []


async def test_a_refused_code_refuses_the_group_and_spends_nothing(api, manage, redeem):
    await create(api, manage, "SHOES20", SHOES20)
    await create(api, manage, "ALL10", ALL10, init_count=1)
    first = await redeem_group(api, redeem, ["SHOES20", "ALL10"])
    assert first.status_code == 201
    second = await redeem_group(api, redeem, ["SHOES20", "ALL10"])
    problem = assert_problem(second, 409, "coupon_exhausted")
    assert problem["details"] == {"code": "ALL10"}
    assert await acounts() == {"SHOES20": 9, "ALL10": 0}
    assert await sync_to_async(RedemptionGroup.objects.count)() == 1


async def test_codes_that_do_not_combine_are_refused_naming_the_code(api, manage, redeem):
    await create(api, manage, "SHOES20", SHOES20)
    await create(api, manage, "PLAIN", {"percent_off": 5})
    response = await redeem_group(api, redeem, ["PLAIN", "SHOES20"])
    assert assert_problem(response, 409, "not_combinable")["details"] == {"code": "PLAIN"}
    unknown = await redeem_group(api, redeem, ["SHOES20", "NOPE"])
    assert assert_problem(unknown, 404, "coupon_not_found")["details"] == {"code": "NOPE"}
    assert await acounts() == {"SHOES20": 10, "PLAIN": 10}


async def test_two_codes_of_one_campaign_never_combine(api, manage, redeem):
    campaign = await create_campaign(api, manage, discount={"percent_off": 5, "combines_with": {
        "order": True, "product": True, "shipping": True}})  # fmt: skip
    await create(api, manage, "C-1", campaign_id=campaign["id"])
    await create(api, manage, "C-2", campaign_id=campaign["id"])
    response = await redeem_group(api, redeem, ["C-1", "C-2"])
    assert assert_problem(response, 409, "not_combinable")["details"] == {"code": "C-2"}


async def test_a_campaign_budget_is_charged_the_codes_stacked_part(api, manage, redeem):
    campaign = await create_campaign(
        api, manage, discount={**ALL10, "currency": "EUR"},
        budget={"amount": 880, "currency": "EUR"},
    )  # fmt: skip
    await create(api, manage, "BF-1", campaign_id=campaign["id"])
    await create(api, manage, "SHOES20", SHOES20)
    # Alone, BF-1 would take 1000 (over the budget); after SHOES20 it takes 880.
    response = await redeem_group(api, redeem, ["BF-1", "SHOES20"])
    assert response.status_code == 201, response.text
    row = await sync_to_async(Campaign.objects.get)(pk=campaign["id"])
    assert (row.redemption_count, row.discount_total) == (1, 880)
    again = await redeem_group(api, redeem, ["BF-1", "SHOES20"])
    assert assert_problem(again, 409, "budget_exhausted")["details"] == {"code": "BF-1"}
    assert await sync_to_async(broken_campaign_counters)() == []


async def test_a_revert_gives_every_use_back_once(api, manage, redeem):
    campaign = await create_campaign(
        api, manage, discount={**ALL10, "currency": "EUR"}, per_customer_limit=1,
        budget={"amount": 10_000, "currency": "EUR"},
    )  # fmt: skip
    await create(api, manage, "BF-1", campaign_id=campaign["id"])
    await create(api, manage, "SHOES20", SHOES20)
    group = (await redeem_group(api, redeem, ["SHOES20", "BF-1"], customer_id="c-1")).json()
    limited = await redeem_group(api, redeem, ["SHOES20", "BF-1"], customer_id="c-1")
    assert assert_problem(limited, 409, "customer_limit_reached")["details"] == {"code": "BF-1"}
    url = f"/v1/redemption-groups/{group['id']}/revert/"
    reverted = await api.post(url, headers={**redeem, "Idempotency-Key": "r-1"})
    assert reverted.status_code == 200, reverted.text
    assert all(m["reverted_at"] for m in reverted.json()["redemptions"])
    replay = await api.post(url, headers={**redeem, "Idempotency-Key": "r-1"})
    assert (replay.status_code, replay.content) == (200, reverted.content)
    assert_problem(await api.post(url, headers=redeem), 409, "already_reverted")
    assert await acounts() == {"SHOES20": 10, "BF-1": 10}
    row = await sync_to_async(Campaign.objects.get)(pk=campaign["id"])
    assert (row.redemption_count, row.discount_total) == (0, 0)
    assert await sync_to_async(broken_campaign_counters)() == []
    again = await redeem_group(api, redeem, ["SHOES20", "BF-1"], customer_id="c-1")
    assert again.status_code == 201, again.text


async def test_an_idempotent_group_is_redeemed_once_and_replayed_byte_for_byte(api, manage, redeem):
    await create(api, manage, "SHOES20", SHOES20)
    await create(api, manage, "ALL10", ALL10)
    headers = {**redeem, "Idempotency-Key": "g-1"}
    body = {"codes": ["SHOES20", "ALL10"], "order": CART}
    first = await api.post("/v1/redemption-groups/", json=body, headers=headers)
    again = await api.post("/v1/redemption-groups/", json=body, headers=headers)
    assert first.status_code == 201 and again.content == first.content
    assert await sync_to_async(Redemption.objects.count)() == 2
    other = await api.post(
        "/v1/redemption-groups/", json={**body, "order_id": "x"}, headers=headers
    )
    assert_problem(other, 422, "idempotency_key_reused")


async def test_a_group_without_an_order_needs_none_for_counting_codes(api, manage, redeem):
    await create(api, manage, "A")
    await create(api, manage, "B")
    response = await redeem_group(api, redeem, ["A", "B"], order=None)
    body = response.json()
    assert response.status_code == 201, body
    assert (body["order"], body["discount_amount"], body["allocations"]) == (None, None, None)
    with_discount = await create(api, manage, "SHOES20", SHOES20)
    assert with_discount
    refused = await redeem_group(api, redeem, ["A", "SHOES20"], order=None)
    assert assert_problem(refused, 400, "order_required")["details"] == {"code": "SHOES20"}
