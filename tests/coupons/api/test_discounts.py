"""v1's second part through the ASGI app: money, a coupon's discount, orders on validations
and redemptions, the new refusals in their order, replays, the PATCH lock, metadata."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from coupons.domain.discounts import Discount, discount_for
from coupons.models import Redemption
from tests.factories import acoupon_state, broken_invariants
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

# The contract's example: 12.5 % off, at most 50.00 EUR, on orders of at least 20.00 EUR.
EXAMPLE = {
    "percent_off": 12.5, "amount_off": None, "currency": "EUR",
    "max_amount_off": 5000, "min_order_amount": 2000,
}  # fmt: skip
# As answers show it: combines_with returned whole (the third part's default: none).
ALONE = {"order": False, "product": False, "shipping": False}
SHOWN = {**EXAMPLE, "combines_with": ALONE}


async def create(api, manage, code: str, **fields) -> dict:
    response = await api.post(
        "/v1/coupons/", json={"code": code, "init_count": 10, **fields}, headers=manage
    )
    assert response.status_code == 201, response.text
    return response.json()


async def redeem_with(api, redeem, code: str, headers: dict | None = None, **fields):
    return await api.post(
        "/v1/redemptions/", json={"code": code, **fields}, headers={**redeem, **(headers or {})}
    )


# Money and the discount on a coupon


async def test_a_discount_is_created_read_and_listed_as_sent(api, manage):
    created = await create(api, manage, "SPRING", discount=EXAMPLE, metadata={"team": "web"})

    assert created["discount"] == SHOWN
    assert created["metadata"] == {"team": "web"}
    fetched = await api.get(f"/v1/coupons/{created['id']}/", headers=manage)
    assert fetched.json() == created
    listed = await api.get("/v1/coupons/?code=spring", headers=manage)
    assert listed.json()["results"] == [created]


async def test_a_percentage_is_read_exactly_and_written_as_a_number(api, manage):
    # 0.29 as a binary float is 0.28999999999999998; read as a float it would round wrong.
    created = await create(api, manage, "EXACT", discount={"percent_off": 0.29})
    raw = (await api.get(f"/v1/coupons/{created['id']}/", headers=manage)).content

    assert b'"percent_off":0.29,' in raw
    twenty = await create(api, manage, "TWENTY", discount={"percent_off": 20.0})
    assert twenty["discount"]["percent_off"] == 20
    assert (
        '"percent_off":20,' in (await api.get(f"/v1/coupons/{twenty['id']}/", headers=manage)).text
    )


@pytest.mark.parametrize(
    ("discount", "field"),
    [
        ({"percent_off": 12.345}, "discount.percent_off"),
        ({"percent_off": 0}, "discount.percent_off"),
        ({"percent_off": 100.01}, "discount.percent_off"),
        ({"percent_off": "10"}, "discount.percent_off"),
        ({"amount_off": 500}, "discount.currency"),
        ({"amount_off": 500, "currency": "ZZZ"}, "discount.currency"),
        ({"amount_off": 500, "currency": "eur"}, "discount.currency"),
        ({"amount_off": 100_000_000_001, "currency": "EUR"}, "discount.amount_off"),
        ({"amount_off": 5.5, "currency": "EUR"}, "discount.amount_off"),
        ({"percent_off": 10, "amount_off": 500, "currency": "EUR"}, "discount.amount_off"),
        ({"amount_off": 500, "currency": "EUR", "max_amount_off": 100}, "discount.max_amount_off"),
        ({"percent_off": 10, "kind": "x"}, "discount.kind"),
    ],
)
async def test_a_bad_discount_is_a_400_naming_the_field(api, manage, discount, field):
    response = await api.post(
        "/v1/coupons/", json={"code": "BAD", "init_count": 1, "discount": discount}, headers=manage
    )
    body = assert_problem(response, 400, "validation_error")
    assert field in body["errors"], body


# Validations with an order


async def test_a_validation_with_an_order_gives_the_worked_example(api, manage, redeem):
    await create(api, manage, "WORKED", discount={"percent_off": 12.5})

    response = await api.post(
        "/v1/validations/",
        json={"code": "worked", "order": {"amount": 999, "currency": "JPY"}},
        headers=redeem,
    )

    # 12.5 % of 999 is 124.875, so 125; a percent without a currency takes any currency.
    # (The third part's fields: an order without lines has no allocations.)
    assert response.json() == {
        "valid": True, "reason": None, "remaining_count": 10, "discount_amount": 125,
        "amount_after_discount": 874, "currency": "JPY", "details": None,
        "allocations": None, "shipping_discount_amount": 0,
        "shipping_amount_after_discount": None,
    }  # fmt: skip


async def test_a_validation_without_an_order_computes_no_amount(api, manage, redeem):
    await create(api, manage, "NOORDER", discount=EXAMPLE)

    response = await api.post("/v1/validations/", json={"code": "NOORDER"}, headers=redeem)

    assert response.json() == {
        "valid": True, "reason": None, "remaining_count": 10, "discount_amount": None,
        "amount_after_discount": None, "currency": None, "details": None,
        "allocations": None, "shipping_discount_amount": None,
        "shipping_amount_after_discount": None,
    }  # fmt: skip


async def test_the_cap_limits_the_discount(api, manage, redeem):
    await create(api, manage, "CAPPED", discount=EXAMPLE)

    response = await api.post(
        "/v1/validations/",
        json={"code": "CAPPED", "order": {"amount": 100_000, "currency": "EUR"}},
        headers=redeem,
    )

    assert response.json()["discount_amount"] == 5000
    assert response.json()["amount_after_discount"] == 95_000


async def test_an_order_below_the_minimum_is_told_the_shortfall(api, manage, redeem):
    await create(api, manage, "MINIMUM", discount=EXAMPLE)
    order = {"amount": 1850, "currency": "EUR"}
    details = {"min_order_amount": 2000, "shortfall": 150, "currency": "EUR"}

    validation = await api.post(
        "/v1/validations/", json={"code": "MINIMUM", "order": order}, headers=redeem
    )
    redemption = await redeem_with(api, redeem, "MINIMUM", order=order)

    assert validation.json() == {
        "valid": False, "reason": "min_order_amount_not_met", "remaining_count": 10,
        "discount_amount": None, "amount_after_discount": None, "currency": None,
        "details": details, "allocations": None, "shipping_discount_amount": None,
        "shipping_amount_after_discount": None,
    }  # fmt: skip
    assert assert_problem(redemption, 409, "min_order_amount_not_met")["details"] == details


async def test_an_order_in_another_currency_is_a_mismatch(api, manage, redeem):
    await create(api, manage, "EUROS", discount={"amount_off": 500, "currency": "EUR"})
    order = {"amount": 10_000, "currency": "USD"}

    validation = await api.post(
        "/v1/validations/", json={"code": "EUROS", "order": order}, headers=redeem
    )
    redemption = await redeem_with(api, redeem, "EUROS", order=order)

    assert validation.json()["reason"] == "currency_mismatch"
    assert assert_problem(redemption, 409, "currency_mismatch")["details"] == {"currency": "EUR"}


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({"amount": 12.5, "currency": "EUR"}, "order.amount"),
        ({"amount": -1, "currency": "EUR"}, "order.amount"),
        ({"amount": 100, "currency": "EURO"}, "order.currency"),
        ({"amount": 100}, "order.currency"),
        ({"amount": 100, "currency": "EUR", "tax": 1}, "order.tax"),
    ],
)
async def test_a_bad_order_is_a_400_naming_the_field(api, redeem, order, field):
    for path in ("/v1/redemptions/", "/v1/validations/"):
        response = await api.post(path, json={"code": "ANY", "order": order}, headers=redeem)
        assert field in assert_problem(response, 400, "validation_error")["errors"]


# Redemptions with an order


async def test_a_discounted_redemption_records_and_returns_the_amounts(api, manage, redeem):
    coupon = await create(api, manage, "TAKE", discount=EXAMPLE)

    response = await redeem_with(
        api, redeem, "take", order={"amount": 12999, "currency": "EUR"}, metadata={"cart": "7"}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    # 12.5 % of 129.99 EUR is 16.24875 EUR: 1625 cents.
    assert (body["order_amount"], body["currency"], body["discount_amount"]) == (12999, "EUR", 1625)
    assert body["metadata"] == {"cart": "7"} and body["remaining_count"] == 9
    row = await Redemption.objects.aget(pk=body["id"])
    assert (row.order_amount, row.currency, row.discount_amount) == (12999, "EUR", 1625)
    assert row.metadata == {"cart": "7"}
    fetched = await api.get(f"/v1/redemptions/{body['id']}/", headers=redeem)
    assert fetched.json() == body
    listed = await api.get(f"/v1/coupons/{coupon['id']}/redemptions/", headers=manage)
    assert listed.json()["results"] == [body]
    reverted = await api.post(f"/v1/redemptions/{body['id']}/revert/", headers=redeem)
    assert reverted.json() | {"reverted_at": None, "remaining_count": 9} == body


async def test_a_coupon_with_a_discount_needs_an_order_to_be_redeemed(api, manage, redeem):
    coupon = await create(api, manage, "NEEDS", discount={"percent_off": 10})
    before = await acoupon_state(coupon["id"])

    response = await redeem_with(api, redeem, "NEEDS")

    assert_problem(response, 400, "order_required")
    assert await acoupon_state(coupon["id"]) == before


async def test_an_order_on_a_coupon_without_a_discount_is_recorded_with_no_discount(
    api, manage, redeem
):
    await create(api, manage, "PLAIN")

    response = await redeem_with(api, redeem, "PLAIN", order={"amount": 500, "currency": "SEK"})

    body = response.json()
    assert (body["order_amount"], body["currency"], body["discount_amount"]) == (500, "SEK", None)


async def test_the_general_path_computes_the_same_discount(api, manage, redeem):
    # A per-customer limit takes the general path (a SELECT count in a transaction).
    await create(api, manage, "LIMITED", discount={"percent_off": 12.5}, per_customer_limit=1)

    response = await redeem_with(
        api, redeem, "LIMITED", customer_id="c-1", order={"amount": 999, "currency": "EUR"}
    )
    again = await redeem_with(
        api, redeem, "LIMITED", customer_id="c-1", order={"amount": 999, "currency": "EUR"}
    )

    assert response.json()["discount_amount"] == 125
    assert_problem(again, 409, "customer_limit_reached")


# The order of refusals (coupons.domain.rules.refusal_for)

BAD_ORDER = {"amount": 100, "currency": "USD"}


@pytest.mark.parametrize(
    ("fields", "body", "status", "code"),
    [
        # The customer id comes before everything else.
        ({"per_customer_limit": 1, "is_active": False}, {}, 400, "customer_id_required"),
        # The coupon's own state comes before the order.
        ({"is_active": False}, {"order": BAD_ORDER}, 409, "coupon_inactive"),
        ({"is_active": False}, {}, 409, "coupon_inactive"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, {}, 409, "coupon_expired"),
        ({"starts_at": "2999-01-01T00:00:00Z"}, {"order": BAD_ORDER}, 409, "coupon_not_started"),
        # Then the order: required, then its currency, then its amount.
        ({}, {}, 400, "order_required"),
        ({}, {"order": BAD_ORDER}, 409, "currency_mismatch"),
        ({}, {"order": {"amount": 1, "currency": "EUR"}}, 409, "min_order_amount_not_met"),
        # And the customer's own count last.
        ({"per_customer_limit": 1},
         {"customer_id": "c-1", "order": {"amount": 1, "currency": "EUR"}},
         409, "min_order_amount_not_met"),
    ],
)  # fmt: skip
async def test_refusals_come_in_the_documented_order(
    api, manage, redeem, fields, body, status, code
):
    coupon = await create(api, manage, "ORDERED", discount=EXAMPLE, **fields)

    response = await redeem_with(api, redeem, "ORDERED", **body)

    assert_problem(response, status, code)
    assert (await acoupon_state(coupon["id"]))[2] == 0


async def test_an_exhausted_coupon_is_exhausted_whatever_the_order(api, manage, redeem):
    await create(api, manage, "ONCE", discount=EXAMPLE, init_count=1)
    ok = await redeem_with(api, redeem, "ONCE", order={"amount": 5000, "currency": "EUR"})
    assert ok.status_code == 201

    response = await redeem_with(api, redeem, "ONCE", order=BAD_ORDER)

    assert_problem(response, 409, "coupon_exhausted")


async def test_the_customer_limit_comes_after_the_order(api, manage, redeem):
    await create(api, manage, "LAST", discount=EXAMPLE, per_customer_limit=1)
    order = {"amount": 5000, "currency": "EUR"}
    assert (await redeem_with(api, redeem, "LAST", customer_id="c", order=order)).status_code == 201

    bad_order = await redeem_with(api, redeem, "LAST", customer_id="c", order=BAD_ORDER)
    good_order = await redeem_with(api, redeem, "LAST", customer_id="c", order=order)

    assert_problem(bad_order, 409, "currency_mismatch")
    assert_problem(good_order, 409, "customer_limit_reached")


# Replays


async def test_a_replayed_discounted_redemption_is_the_same_bytes(api, manage, redeem):
    coupon = await create(api, manage, "REPLAY", discount=EXAMPLE)
    key = {"Idempotency-Key": "checkout-42"}
    order = {"amount": 12999, "currency": "EUR"}

    first = await redeem_with(api, redeem, "REPLAY", key, order=order, metadata={"a": "b"})
    retries = await asyncio.gather(
        *(redeem_with(api, redeem, "REPLAY", key, order=order, metadata={"a": "b"})
          for _ in range(3))
    )  # fmt: skip

    assert first.status_code == 201 and first.json()["discount_amount"] == 1625
    assert {r.content for r in retries} == {first.content}
    assert all(r.headers["idempotent-replayed"] == "true" for r in retries)
    assert await acoupon_state(coupon["id"]) == (10, 9, 1)


async def test_a_replayed_order_refusal_keeps_its_details(api, manage, redeem):
    await create(api, manage, "REFUSED", discount=EXAMPLE)
    key = {"Idempotency-Key": "short-1"}
    order = {"amount": 1850, "currency": "EUR"}

    first = await redeem_with(api, redeem, "REFUSED", key, order=order)
    again = await redeem_with(api, redeem, "REFUSED", key, order=order)

    assert again.content == first.content and b'"shortfall":150' in first.content


async def test_an_amount_with_a_fraction_is_a_400_with_or_without_a_key(api, redeem):
    # Read as Decimal now (never a float), 12.50 must still be refused as an amount.
    headers = {**redeem, "Idempotency-Key": "fraction", "Content-Type": "application/json"}
    body = '{"code": "X", "order": {"amount": %s, "currency": "EUR"}}'

    first = await api.post("/v1/redemptions/", content=body % "12.50", headers=headers)
    again = await api.post("/v1/redemptions/", content=body % "12.5", headers=headers)

    assert "order.amount" in assert_problem(first, 400, "validation_error")["errors"]
    assert again.content == first.content


# PATCH of the discount


async def test_the_discount_is_replaced_whole_and_removed_while_never_redeemed(api, manage):
    coupon = await create(api, manage, "EDIT", discount=EXAMPLE)
    url = f"/v1/coupons/{coupon['id']}/"

    replaced = await api.patch(url, json={"discount": {"percent_off": 5}}, headers=manage)
    assert replaced.json()["discount"] == {
        "percent_off": 5, "amount_off": None, "currency": None,
        "max_amount_off": None, "min_order_amount": None, "combines_with": ALONE,
    }  # fmt: skip
    removed = await api.patch(url, json={"discount": None}, headers=manage)
    assert removed.json()["discount"] is None
    added = await api.patch(url, json={"discount": EXAMPLE}, headers=manage)
    assert added.json()["discount"] == SHOWN


async def test_the_discount_is_locked_once_redeemed(api, manage, redeem):
    coupon = await create(api, manage, "LOCKED", discount=EXAMPLE)
    url = f"/v1/coupons/{coupon['id']}/"
    used = await redeem_with(api, redeem, "LOCKED", order={"amount": 5000, "currency": "EUR"})
    await api.post(f"/v1/redemptions/{used.json()['id']}/revert/", headers=redeem)

    changed = await api.patch(url, json={"discount": {"percent_off": 50}}, headers=manage)
    removed = await api.patch(url, json={"discount": None}, headers=manage)
    same = await api.patch(url, json={"discount": EXAMPLE, "is_active": False}, headers=manage)

    assert_problem(changed, 409, "discount_locked")
    assert_problem(removed, 409, "discount_locked")
    # Sending the discount it has changes nothing, so it is no change of the discount.
    assert same.status_code == 200 and same.json()["discount"] == SHOWN
    assert (await api.get(url, headers=manage)).json()["discount"] == SHOWN


async def test_a_discount_locked_by_a_live_hold_says_it_is_held_not_redeemed(api, manage, redeem):
    five_off = {"amount_off": 500, "currency": "EUR"}
    coupon = await create(api, manage, "HELDLOCK", discount=five_off)
    order = {"amount": 5000, "currency": "EUR"}
    hold = await api.post("/v1/reservations/", json={"code": "HELDLOCK", "order": order},
                          headers=redeem)  # fmt: skip
    assert hold.status_code == 201, hold.text
    campaign = await api.post(
        "/v1/campaigns/", json={"name": "Held", "discount": five_off}, headers=manage
    )
    await create(api, manage, "HELDCAMP", campaign_id=campaign.json()["id"])
    held = await api.post("/v1/reservations/", json={"code": "HELDCAMP", "order": order},
                          headers=redeem)  # fmt: skip
    assert held.status_code == 201, held.text

    refusals = [
        await api.patch(
            f"/v1/coupons/{coupon['id']}/", json={"discount": {"percent_off": 50}}, headers=manage
        ),
        await api.patch(
            f"/v1/campaigns/{campaign.json()['id']}/",
            json={"discount": {"percent_off": 50}},
            headers=manage,
        ),
    ]

    for refused in refusals:
        detail = assert_problem(refused, 409, "discount_locked")["detail"]
        assert "held" in detail and "redeemed" not in detail


async def test_a_discount_given_to_a_redeemed_plain_coupon_is_locked_too(api, manage, redeem):
    coupon = await create(api, manage, "WASPLAIN")
    assert (await redeem_with(api, redeem, "WASPLAIN")).status_code == 201

    response = await api.patch(
        f"/v1/coupons/{coupon['id']}/", json={"discount": {"percent_off": 10}}, headers=manage
    )

    assert_problem(response, 409, "discount_locked")


# Metadata


async def test_metadata_is_merged_on_patch_and_null_deletes_a_key(api, manage):
    coupon = await create(api, manage, "META", metadata={"a": "1", "b": "2"})
    url = f"/v1/coupons/{coupon['id']}/"

    response = await api.patch(url, json={"metadata": {"b": None, "c": "3"}}, headers=manage)

    assert response.json()["metadata"] == {"a": "1", "c": "3"}
    missing = await api.patch(url, json={"metadata": {"nope": None}}, headers=manage)
    assert missing.json()["metadata"] == {"a": "1", "c": "3"}


async def test_concurrent_metadata_patches_of_different_keys_all_land(api, manage):
    coupon = await create(api, manage, "MERGES")
    url = f"/v1/coupons/{coupon['id']}/"

    answers = await asyncio.gather(
        *(api.patch(url, json={"metadata": {f"k{i}": str(i)}}, headers=manage) for i in range(8))
    )

    assert {a.status_code for a in answers} == {200}
    final = (await api.get(url, headers=manage)).json()["metadata"]
    assert final == {f"k{i}": str(i) for i in range(8)}


async def test_a_merge_past_50_keys_is_a_400_and_changes_nothing(api, manage):
    full = {f"k{i}": "v" for i in range(50)}
    coupon = await create(api, manage, "FULL", metadata=full)
    url = f"/v1/coupons/{coupon['id']}/"

    response = await api.patch(url, json={"metadata": {"one-more": "x"}}, headers=manage)
    swapped = await api.patch(url, json={"metadata": {"k0": None, "new": "x"}}, headers=manage)

    assert "metadata" in assert_problem(response, 400, "validation_error")["errors"]
    assert swapped.status_code == 200 and len(swapped.json()["metadata"]) == 50


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"a": 1}, "metadata.a"),
        ({"long": "x" * 501}, "metadata.long"),
        ({"k" * 41: "x"}, "metadata"),
        ({f"k{i}": "v" for i in range(51)}, "metadata"),
        (["a"], "metadata"),
    ],
)
async def test_bad_metadata_is_a_400_naming_the_key(api, manage, redeem, metadata, field):
    created = await api.post(
        "/v1/coupons/", json={"code": "M", "init_count": 1, "metadata": metadata}, headers=manage
    )
    redeemed = await redeem_with(api, redeem, "M", metadata=metadata)

    assert field in assert_problem(created, 400, "validation_error")["errors"]
    assert field in assert_problem(redeemed, 400, "validation_error")["errors"]


# Batches


async def test_a_batch_carries_the_discount_and_metadata(api, manage):
    response = await api.post(
        "/v1/coupons/batch/",
        json={"count": 3, "init_count": 2, "length": 8, "prefix": "D-", "discount": EXAMPLE,
              "metadata": {"run": "1"}},
        headers=manage,
    )  # fmt: skip

    assert response.status_code == 201, response.text
    for code in response.json()["codes"]:
        listed = (await api.get(f"/v1/coupons/?code={code}", headers=manage)).json()
        assert listed["results"][0]["discount"] == SHOWN
        assert listed["results"][0]["metadata"] == {"run": "1"}


async def test_the_recorded_discount_equals_discount_for(api, manage, redeem):
    await create(api, manage, "PINNED", discount=EXAMPLE, init_count=50)
    discount = Discount(
        percent_off=Decimal("12.5"), currency="EUR", max_amount_off=5000, min_order_amount=2000
    )
    amounts = [2000, 2001, 2003, 2005, 9999, 12999, 39_999, 40_001, 99_999_999]

    for amount in amounts:
        response = await redeem_with(
            api, redeem, "PINNED", order={"amount": amount, "currency": "EUR"}
        )
        assert response.json()["discount_amount"] == discount_for(discount, order_amount=amount)
    assert await sync_to_async(broken_invariants)() == []
