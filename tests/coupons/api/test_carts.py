"""v1's third part through the ASGI app: orders with lines, targeted discounts, and
where every minor unit of a discount goes, on validations, redemptions and holds."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from coupons.models import Campaign, Redemption, Reservation
from events.models import Event
from tests.factories import broken_invariants
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

SHIRT_PRICES = (3000, 2500, 2000, 1500, 1000, 500)
SHIRTS = [
    {"id": f"s{i}", "product_id": f"shirt-{i}", "categories": ["shirts"], "quantity": 1,
     "unit_amount": price}
    for i, price in enumerate(SHIRT_PRICES)
]  # fmt: skip
BUY_2_GET_1 = {
    "buy": {"quantity": 2, "applies_to": {"categories": ["shirts"]}},
    "get": {"quantity": 1, "applies_to": {"categories": ["shirts"]}, "percent_off": 100},
    "max_applications": None,
}
SHOES_20 = {
    "percent_off": 20, "currency": "EUR",
    "applies_to": {"product_ids": [], "variant_ids": [], "categories": ["shoes"],
                   "collections": []},
    "excludes": {"product_ids": ["shoe-9"]},
}  # fmt: skip
CART = {
    "currency": "EUR",
    "lines": [
        {"id": "l1", "product_id": "shoe-7", "variant_id": "shoe-7-42", "categories": ["shoes"],
         "collections": ["summer-26"], "quantity": 2, "unit_amount": 4999},
        {"id": "l2", "product_id": "gift-card", "quantity": 1, "unit_amount": 2500,
         "discountable": False},
        {"id": "l3", "product_id": "shoe-9", "categories": ["shoes"], "quantity": 1,
         "unit_amount": 8000},
    ],
    "shipping_amount": 495,
}  # fmt: skip


async def create(api, manage, code: str, discount: dict, **fields) -> dict:
    response = await api.post(
        "/v1/coupons/",
        json={"code": code, "init_count": 10, "discount": discount, **fields},
        headers=manage,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def validate(api, redeem, code: str, order: dict):
    response = await api.post(
        "/v1/validations/", json={"code": code, "order": order}, headers=redeem
    )
    return response


async def redeem_order(api, redeem, code: str, order: dict, path: str = "/v1/redemptions/"):
    return await api.post(path, json={"code": code, "order": order}, headers=redeem)


def lines_order(lines, **fields) -> dict:
    return {"currency": "EUR", "lines": lines, **fields}


def one_line(line_id: str, quantity: object, unit_amount: object, **fields) -> dict:
    return {"id": line_id, "quantity": quantity, "unit_amount": unit_amount, **fields}


@sync_to_async
def written() -> tuple[int, int, int]:
    return Redemption.objects.count(), Reservation.objects.count(), Event.objects.count()


# The worked examples, end to end.


async def test_a_thousand_off_three_lines_of_1999_is_334_333_333(api, manage, redeem):
    await create(api, manage, "THOUSAND", {"amount_off": 1000, "currency": "EUR"})
    order = lines_order([one_line(f"l{i}", 1, 1999) for i in range(1, 4)])

    body = (await validate(api, redeem, "THOUSAND", order)).json()

    assert body["valid"] and body["discount_amount"] == 1000
    assert [a["amount"] for a in body["allocations"]] == [334, 333, 333]
    assert body["amount_after_discount"] == 4997 and body["shipping_discount_amount"] == 0
    assert body["shipping_amount_after_discount"] is None


async def test_a_thousand_over_three_units_is_one_of_334_and_two_of_333(api, manage, redeem):
    await create(api, manage, "UNITS", {"amount_off": 1000, "currency": "EUR"})

    response = await redeem_order(api, redeem, "UNITS", lines_order([one_line("l1", 3, 1000)]))

    assert response.status_code == 201, response.text
    assert response.json()["allocations"] == [
        {"line_id": "l1", "amount": 1000,
         "units": [{"quantity": 1, "amount_each": 334}, {"quantity": 2, "amount_each": 333}]}
    ]  # fmt: skip


async def test_buy_two_get_one_free_over_six_shirts_takes_1500(api, manage, redeem):
    await create(api, manage, "B2G1", {"buy_x_get_y": BUY_2_GET_1})

    response = await redeem_order(api, redeem, "B2G1", lines_order(SHIRTS))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["discount_amount"] == 1500 and body["order_amount"] == 10500
    assert [a["amount"] for a in body["allocations"]] == [0, 0, 0, 0, 1000, 500]
    assert body["allocations"][0]["units"] == []


async def test_twenty_percent_off_shoes_except_one_product_with_shipping(api, manage, redeem):
    created = await create(api, manage, "SHOES20", SHOES_20)
    assert created["discount"]["applies_to"] == SHOES_20["applies_to"]
    assert created["discount"]["excludes"] == {
        "product_ids": ["shoe-9"], "variant_ids": [], "categories": [], "collections": [],
    }  # fmt: skip

    response = await redeem_order(api, redeem, "SHOES20", CART)

    assert response.status_code == 201, response.text
    body = response.json()
    # 20 % of 9998 (the one eligible line) is 1999.6: 2000, 1000 off each shoe.
    assert body["discount_amount"] == 2000 and body["shipping_discount_amount"] == 0
    assert body["allocations"] == [
        {"line_id": "l1", "amount": 2000, "units": [{"quantity": 2, "amount_each": 1000}]},
        {"line_id": "l2", "amount": 0, "units": []},
        {"line_id": "l3", "amount": 0, "units": []},
    ]
    # The order as priced: the amount is the lines' sum; every field with its default.
    assert body["order"]["amount"] == body["order_amount"] == 20498
    assert body["order"]["shipping_amount"] == 495
    assert body["order"]["lines"][1] == {
        "id": "l2", "product_id": "gift-card", "variant_id": None, "categories": [],
        "collections": [], "quantity": 1, "unit_amount": 2500, "discountable": False,
    }  # fmt: skip
    # The same on every read, and in the event.
    read = (await api.get(f"/v1/redemptions/{body['id']}/", headers=redeem)).json()
    assert read == body
    event = await Event.objects.filter(type="redemption.created").alatest("created_at")
    assert event.data["allocations"] == body["allocations"]
    assert event.data["order"] == body["order"]
    reverted = await api.post(f"/v1/redemptions/{body['id']}/revert/", headers=redeem)
    assert reverted.json()["allocations"] == body["allocations"]
    assert reverted.json()["order"] == body["order"]


async def test_free_shipping_over_fifty_euros(api, manage, redeem):
    free = {"percent_off": 100, "currency": "EUR", "min_order_amount": 5000,
            "target": "shipping"}  # fmt: skip
    await create(api, manage, "SHIPFREE", free)

    body = (await validate(api, redeem, "SHIPFREE", CART)).json()
    assert body["valid"], body
    assert body["discount_amount"] == 495 == body["shipping_discount_amount"]
    assert body["shipping_amount_after_discount"] == 0
    assert body["amount_after_discount"] == 20498
    assert [a["amount"] for a in body["allocations"]] == [0, 0, 0]

    small = lines_order([one_line("l1", 1, 4000)], shipping_amount=495)
    refused = (await validate(api, redeem, "SHIPFREE", small)).json()
    assert refused["reason"] == "min_order_amount_not_met"
    assert refused["details"]["shortfall"] == 1000


async def test_a_campaign_budget_is_charged_the_whole_discount_shipping_included(
    api, manage, redeem
):
    campaign = await api.post(
        "/v1/campaigns/",
        json={"name": "Ship", "discount": {"amount_off": 300, "currency": "EUR",
                                           "target": "shipping"},
              "budget": {"amount": 500, "currency": "EUR"}},
        headers=manage,
    )  # fmt: skip
    assert campaign.status_code == 201, campaign.text
    assert campaign.json()["discount"]["target"] == "shipping"
    cid = campaign.json()["id"]
    for code in ("SHIP-A", "SHIP-B"):
        made = await api.post(
            "/v1/coupons/", json={"code": code, "init_count": 1, "campaign_id": cid},
            headers=manage,
        )  # fmt: skip
        assert made.status_code == 201, made.text
    order = lines_order([one_line("l1", 1, 100)], shipping_amount=495)

    first = await redeem_order(api, redeem, "SHIP-A", order)
    assert first.status_code == 201, first.text
    assert first.json()["discount_amount"] == 300 == first.json()["shipping_discount_amount"]
    second = await redeem_order(api, redeem, "SHIP-B", order)
    assert_problem(second, 409, "budget_exhausted")

    shown = (await api.get(f"/v1/campaigns/{cid}/", headers=manage)).json()
    assert shown["discount_total"] == 300 and shown["budget_remaining"] == 200
    await api.post(f"/v1/redemptions/{first.json()['id']}/revert/", headers=redeem)
    shown = (await api.get(f"/v1/campaigns/{cid}/", headers=manage)).json()
    assert shown["discount_total"] == 0
    assert await sync_to_async(broken_invariants)() == []


async def test_a_targeted_campaign_prices_lines_on_the_general_path(api, manage, redeem):
    campaign = await api.post(
        "/v1/campaigns/", json={"name": "Shoes", "discount": SHOES_20,
                                "budget": {"amount": 100_000, "currency": "EUR"}},
        headers=manage,
    )  # fmt: skip
    cid = campaign.json()["id"]
    await api.post("/v1/coupons/", json={"code": "CSHOES", "init_count": 5, "campaign_id": cid},
                   headers=manage)  # fmt: skip

    response = await redeem_order(api, redeem, "CSHOES", CART)
    assert response.status_code == 201, response.text
    assert response.json()["discount_amount"] == 2000
    assert_problem(
        await redeem_order(api, redeem, "CSHOES", {"amount": 1000, "currency": "EUR"}),
        400, "lines_required",
    )  # fmt: skip
    assert (await Campaign.objects.aget(pk=cid)).discount_total == 2000


# Holds.


async def test_a_hold_records_the_order_and_its_confirm_keeps_it(api, manage, redeem):
    await create(api, manage, "HOLDB2G1", {"buy_x_get_y": BUY_2_GET_1})

    held = await redeem_order(api, redeem, "HOLDB2G1", lines_order(SHIRTS), "/v1/reservations/")

    assert held.status_code == 201, held.text
    hold = held.json()
    assert hold["discount_amount"] == 1500
    assert [a["amount"] for a in hold["allocations"]] == [0, 0, 0, 0, 1000, 500]
    read = (await api.get(f"/v1/reservations/{hold['id']}/", headers=redeem)).json()
    assert read["allocations"] == hold["allocations"] and read["order"] == hold["order"]
    confirmed = await api.post(f"/v1/reservations/{hold['id']}/confirm/", headers=redeem)
    assert confirmed.status_code == 201, confirmed.text
    for field in ("order", "allocations", "shipping_discount_amount", "discount_amount"):
        assert confirmed.json()[field] == hold[field]


# Refusals, in their place.


async def test_a_targeted_discount_without_lines_is_lines_required(api, manage, redeem):
    await create(api, manage, "NEEDLINES", SHOES_20)
    plain = {"amount": 5000, "currency": "EUR"}

    assert_problem(await validate(api, redeem, "NEEDLINES", plain), 400, "lines_required")
    assert_problem(await redeem_order(api, redeem, "NEEDLINES", plain), 400, "lines_required")
    held = await redeem_order(api, redeem, "NEEDLINES", plain, "/v1/reservations/")
    assert_problem(held, 400, "lines_required")
    assert (await validate(api, redeem, "NEEDLINES", CART)).json()["valid"]


async def test_no_eligible_line_and_too_few_units_are_refusals(api, manage, redeem):
    await create(api, manage, "HATS", {"percent_off": 10, "applies_to": {"categories": ["hats"]},
                                       "min_quantity": 3})  # fmt: skip
    socks = lines_order([one_line("l1", 1, 500, categories=["socks"])])
    hats = lines_order([one_line("l1", 2, 500, categories=["hats"])])

    body = (await validate(api, redeem, "HATS", socks)).json()
    assert (body["valid"], body["reason"]) == (False, "no_eligible_lines")
    assert_problem(await redeem_order(api, redeem, "HATS", socks), 409, "no_eligible_lines")
    body = (await validate(api, redeem, "HATS", hats)).json()
    assert body["reason"] == "min_quantity_not_met"
    assert body["details"] == {"min_quantity": 3, "shortfall": 1}
    problem = assert_problem(await redeem_order(api, redeem, "HATS", hats), 409,
                             "min_quantity_not_met")  # fmt: skip
    assert problem["details"] == {"min_quantity": 3, "shortfall": 1}
    held = await redeem_order(api, redeem, "HATS", hats, "/v1/reservations/")
    assert_problem(held, 409, "min_quantity_not_met")
    assert await written() == (0, 0, 1)  # the coupon's creation only


async def test_a_fractional_get_percent_is_read_exactly_and_rounded_per_unit(api, manage, redeem):
    half_off = {**BUY_2_GET_1, "get": {**BUY_2_GET_1["get"], "percent_off": 12.5}}
    created = await create(api, manage, "B2G1-12", {"buy_x_get_y": half_off})
    assert created["discount"]["buy_x_get_y"]["get"]["percent_off"] == 12.5

    body = (await validate(api, redeem, "B2G1-12", lines_order(SHIRTS))).json()

    # 12.5 % of 500 is 62.5: 63; of 1000, 125.
    assert body["discount_amount"] == 188, body


async def test_buy_x_get_y_short_of_one_application_says_by_how_many_units(api, manage, redeem):
    await create(api, manage, "SHORT", {"buy_x_get_y": BUY_2_GET_1})
    body = (await validate(api, redeem, "SHORT", lines_order(SHIRTS[:1]))).json()
    assert body["reason"] == "min_quantity_not_met"
    assert body["details"] == {"min_quantity": 3, "shortfall": 2}


async def test_each_takes_off_every_unit_capped(api, manage, redeem):
    await create(api, manage, "EACH", {"amount_off": 300, "currency": "EUR",
                                       "allocation": "each", "max_amount_off": 1000})  # fmt: skip
    order = lines_order([one_line("a", 2, 1000), one_line("b", 3, 200)])
    body = (await validate(api, redeem, "EACH", order)).json()
    assert body["discount_amount"] == 1000
    assert [a["amount"] for a in body["allocations"]] == [500, 500]


# Bad input: a 400 naming the field, nothing written.


@pytest.mark.parametrize(
    ("order", "field"),
    [
        (lines_order([one_line("a", 1, 100), one_line("b", 0, 100)]), "order.lines.1.quantity"),
        (lines_order([one_line("a", 1, 100), one_line("a", 1, 100)]), "order.lines.1.id"),
        (lines_order([one_line("a", 1, "100")]), "order.lines.0.unit_amount"),
        (lines_order([one_line("a", 2, 60_000_000_000)]), "order.lines.0.unit_amount"),
        (lines_order([one_line("a", 1, 100, categories="shoes")]), "order.lines.0.categories"),
        (lines_order([one_line("a", 1, 100, colour="red")]), "order.lines.0.colour"),
        (lines_order([one_line("é", 1, 100)]), "order.lines.0.id"),
        (lines_order([]), "order.lines"),
        (lines_order([one_line(f"l{i}", 1, 1) for i in range(501)]), "order.lines"),
        (lines_order([one_line("a", 1, 100)], amount=99), "order.amount"),
        (lines_order([one_line("a", 1, 100)], shipping_amount=-1), "order.shipping_amount"),
        ({"currency": "EUR"}, "order.amount"),
    ],
)
async def test_bad_lines_are_a_400_naming_the_field_and_write_nothing(
    api, manage, redeem, order, field
):
    await create(api, manage, "BADLINES", {"percent_off": 10})
    before = await written()

    for path in ("/v1/redemptions/", "/v1/reservations/", "/v1/validations/"):
        problem = assert_problem(await redeem_order(api, redeem, "BADLINES", order, path), 400,
                                 "validation_error")  # fmt: skip
        assert field in problem["errors"], problem

    assert await written() == before


@pytest.mark.parametrize(
    ("discount", "field"),
    [
        ({"percent_off": 10, "amount_off": 5, "currency": "EUR"}, "discount.amount_off"),
        ({"percent_off": 10, "buy_x_get_y": BUY_2_GET_1}, "discount.buy_x_get_y"),
        ({"percent_off": 10, "applies_to": {"categories": []}}, "discount.applies_to"),
        ({"percent_off": 10, "applies_to": {"brands": ["x"]}}, "discount.applies_to.brands"),
        ({"percent_off": 10, "target": "shipping", "applies_to": {"categories": ["x"]}},
         "discount.applies_to"),
        ({"percent_off": 10, "allocation": "each"}, "discount.allocation"),
        ({"percent_off": 10, "min_quantity": 0}, "discount.min_quantity"),
        ({"percent_off": 10, "min_quantity": "2"}, "discount.min_quantity"),
        ({"buy_x_get_y": {**BUY_2_GET_1, "buy": {"quantity": 0}}},
         "discount.buy_x_get_y.buy.quantity"),
    ],
)  # fmt: skip
async def test_bad_targeting_is_a_400_naming_the_field(api, manage, discount, field):
    response = await api.post(
        "/v1/coupons/", json={"code": "BADDISC", "init_count": 1, "discount": discount},
        headers=manage,
    )  # fmt: skip
    assert field in assert_problem(response, 400, "validation_error")["errors"]


async def test_an_order_without_lines_is_answered_as_before(api, manage, redeem):
    await create(api, manage, "PLAIN", {"percent_off": 12.5})
    order = {"amount": 999, "currency": "JPY"}

    body = (await redeem_order(api, redeem, "PLAIN", order)).json()

    assert body["discount_amount"] == 125 and body["allocations"] is None
    assert body["order"] == {"currency": "JPY", "amount": 999, "lines": None,
                             "shipping_amount": None}  # fmt: skip
    assert body["shipping_discount_amount"] == 0
    read = (await api.get(f"/v1/redemptions/{body['id']}/", headers=redeem)).json()
    assert read == body
    # On PostgreSQL, the one-statement path wrote the event: the same object.
    event = await Event.objects.filter(type="redemption.created").alatest("created_at")
    assert event.data == body
