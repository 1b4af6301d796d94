"""Redeeming, reverting and validating codes of a campaign: its rules, its counters, and
the refusal order (coupons.domain.rules)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from coupons.services import campaigns as campaign_service
from tests.campaigns import broken_campaign_counters
from tests.factories import amake_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

EUR = {"percent_off": 20, "currency": "EUR", "max_amount_off": 1500}
acreate_campaign = sync_to_async(campaign_service.create_campaign)


def order(amount: int, currency: str = "EUR") -> dict[str, object]:
    return {"amount": amount, "currency": currency}


async def campaign_with_codes(count: int = 3, **fields):
    campaign = await acreate_campaign(name=fields.pop("name", "BF"), **fields)
    codes = [
        (await amake_coupon(f"BF-{campaign.id.hex[:6]}-{i}", init_count=1,
                            campaign_id=campaign.id)).code
        for i in range(count)
    ]  # fmt: skip
    return campaign, codes


async def spend(api, headers, code, **body):
    return await api.post("/v1/redemptions/", json={"code": code, **body}, headers=headers)


async def campaign_json(api, manage, campaign):
    return (await api.get(f"/v1/campaigns/{campaign.id}/", headers=manage)).json()


async def test_a_code_of_a_campaign_takes_its_discount_and_moves_its_counters(api, manage, redeem):
    campaign, codes = await campaign_with_codes(
        discount=EUR, budget={"amount": 10_000, "currency": "EUR"}
    )
    response = await spend(api, redeem, codes[0], order=order(5000))

    assert response.status_code == 201, response.text
    assert response.json()["discount_amount"] == 1000
    state = await campaign_json(api, manage, campaign)
    assert (state["redemption_count"], state["discount_total"]) == (1, 1000)
    assert state["budget_remaining"] == 9000
    assert await sync_to_async(broken_campaign_counters)() == []


async def test_a_code_of_a_campaign_with_a_budget_needs_an_order(api, redeem):
    _, codes = await campaign_with_codes(discount=EUR, budget={"amount": 100, "currency": "EUR"})

    response = await spend(api, redeem, codes[0])

    assert_problem(response, 400, "order_required")


async def test_the_budget_is_never_overspent_and_never_partly_spent(api, manage, redeem):
    campaign, codes = await campaign_with_codes(
        discount=EUR, budget={"amount": 1800, "currency": "EUR"}
    )

    first = await spend(api, redeem, codes[0], order=order(5000))  # 1000 off
    too_much = await spend(api, redeem, codes[1], order=order(5000))  # 1000 > 800 left
    fits = await spend(api, redeem, codes[1], order=order(4000))  # 800 off

    assert first.status_code == 201 and fits.status_code == 201, fits.text
    assert_problem(too_much, 409, "budget_exhausted")
    state = await campaign_json(api, manage, campaign)
    assert (state["discount_total"], state["budget_remaining"]) == (1800, 0)


async def test_max_redemptions_counts_across_the_codes(api, manage, redeem):
    campaign, codes = await campaign_with_codes(max_redemptions=2)

    answers = [await spend(api, redeem, code) for code in codes]

    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert_problem(answers[2], 409, "campaign_exhausted")
    assert (await campaign_json(api, manage, campaign))["redemption_count"] == 2


async def test_a_customer_limit_counts_live_redemptions_across_the_codes(api, redeem):
    _, codes = await campaign_with_codes(per_customer_limit=1)

    without = await spend(api, redeem, codes[0])
    first = await spend(api, redeem, codes[0], customer_id="ann")
    again = await spend(api, redeem, codes[1], customer_id="ann")
    other = await spend(api, redeem, codes[1], customer_id="bob")
    await api.post(f"/v1/redemptions/{first.json()['id']}/revert/", headers=redeem)
    after_revert = await spend(api, redeem, codes[2], customer_id="ann")

    assert_problem(without, 400, "customer_id_required")
    assert first.status_code == 201 and other.status_code == 201
    assert_problem(again, 409, "customer_limit_reached")
    assert after_revert.status_code == 201, after_revert.text


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"is_active": False}, "campaign_inactive"),
        ({"starts_at": timezone.now() + timedelta(days=1)}, "campaign_not_started"),
        ({"expires_at": timezone.now() - timedelta(days=1),
          "starts_at": timezone.now() - timedelta(days=2)}, "campaign_expired"),
    ],
)  # fmt: skip
async def test_the_campaign_window_and_flag_apply_to_its_codes(api, redeem, fields, code):
    _, codes = await campaign_with_codes(**fields)

    response = await spend(api, redeem, codes[0])

    assert_problem(response, 409, code)


async def test_a_revert_gives_back_the_use_the_capacity_and_the_budget(api, manage, redeem):
    campaign, codes = await campaign_with_codes(
        discount=EUR, max_redemptions=1, budget={"amount": 1000, "currency": "EUR"}
    )
    spent = (await spend(api, redeem, codes[0], order=order(5000))).json()
    refused = await spend(api, redeem, codes[1], order=order(5000))

    reverted = await api.post(f"/v1/redemptions/{spent['id']}/revert/", headers=redeem)

    assert_problem(refused, 409, "campaign_exhausted")
    assert reverted.status_code == 200
    state = await campaign_json(api, manage, campaign)
    assert (state["redemption_count"], state["discount_total"], state["budget_remaining"]) == (
        0, 0, 1000,
    )  # fmt: skip
    again = await spend(api, redeem, codes[1], order=order(5000))
    assert again.status_code == 201, again.text
    assert await sync_to_async(broken_campaign_counters)() == []


async def test_refusals_come_in_the_documented_order(api, manage, redeem):
    campaign, codes = await campaign_with_codes(
        discount={"percent_off": 10, "currency": "EUR", "min_order_amount": 1000},
        per_customer_limit=1, max_redemptions=2, budget={"amount": 150, "currency": "EUR"},
    )  # fmt: skip
    patch = sync_to_async(campaign_service.update_campaign)
    inactive_code = await amake_coupon("OFF-CODE", init_count=1, campaign_id=campaign.id,
                                       is_active=False)  # fmt: skip

    # 1 before 2: the campaign's limit needs a customer, whatever the coupon says.
    assert_problem(await spend(api, redeem, inactive_code.code), 400, "customer_id_required")
    # 2 before 3: the coupon itself, then its campaign.
    await patch(campaign.id, changes={"is_active": False})
    assert_problem(await spend(api, redeem, inactive_code.code, customer_id="a"), 409,
                   "coupon_inactive")  # fmt: skip
    # 3 before 4: the campaign, then the order.
    assert_problem(await spend(api, redeem, codes[0], customer_id="a"), 409,
                   "campaign_inactive")  # fmt: skip
    await patch(campaign.id, changes={"is_active": True})
    # 4: the order, against the campaign's discount.
    assert_problem(await spend(api, redeem, codes[0], customer_id="a"), 400, "order_required")
    assert_problem(await spend(api, redeem, codes[0], customer_id="a", order=order(500)), 409,
                   "min_order_amount_not_met")  # fmt: skip
    assert_problem(await spend(api, redeem, codes[0], customer_id="a",
                                order=order(5000, "USD")), 409, "currency_mismatch")  # fmt: skip
    ok = await spend(api, redeem, codes[0], customer_id="a", order=order(1000))  # 100 off
    assert ok.status_code == 201, ok.text
    # 5 before 6: the budget (100 more > 50 left), then the customer's count.
    assert_problem(await spend(api, redeem, codes[1], customer_id="a", order=order(1000)), 409,
                   "budget_exhausted")  # fmt: skip
    await patch(campaign.id, changes={"budget": {"amount": 1000, "currency": "EUR"}})
    assert_problem(await spend(api, redeem, codes[1], customer_id="a", order=order(1000)), 409,
                   "customer_limit_reached")  # fmt: skip
    # and 3's exhaustion before 4: max_redemptions reached, no order needed to be told.
    other = await spend(api, redeem, codes[1], customer_id="b", order=order(1000))
    assert other.status_code == 201, other.text
    assert_problem(await spend(api, redeem, codes[2], customer_id="c"), 409, "campaign_exhausted")


async def test_validations_answer_the_campaign_reasons(api, redeem):
    campaign, codes = await campaign_with_codes(
        discount=EUR, per_customer_limit=1, budget={"amount": 1020, "currency": "EUR"}
    )
    await spend(api, redeem, codes[0], customer_id="ann", order=order(5000))

    async def validate(**body):
        return (await api.post("/v1/validations/", json=body, headers=redeem)).json()

    assert (await validate(code=codes[1], customer_id="ann"))["reason"] == "customer_limit_reached"
    assert (await validate(code=codes[1]))["reason"] == "customer_id_required"
    assert (await validate(code=codes[1], customer_id="bob", order=order(5000)))["reason"] == (
        "budget_exhausted"
    )
    fine = await validate(code=codes[1], customer_id="bob", order=order(100))
    assert fine["valid"] is True and fine["discount_amount"] == 20
    await sync_to_async(campaign_service.update_campaign)(campaign.id, changes={"is_active": False})
    assert (await validate(code=codes[1], customer_id="bob"))["reason"] == "campaign_inactive"


async def test_a_redeemed_campaign_keeps_its_discount_its_spend_and_its_codes(api, manage, redeem):
    campaign, codes = await campaign_with_codes(
        discount=EUR, max_redemptions=5, budget={"amount": 5000, "currency": "EUR"}
    )
    await spend(api, redeem, codes[0], order=order(5000))  # 1000 off
    await spend(api, redeem, codes[1], order=order(5000))
    url = f"/v1/campaigns/{campaign.id}/"

    locked = await api.patch(url, json={"discount": {"percent_off": 5}}, headers=manage)
    below = await api.patch(url, json={"budget": {"amount": 1999, "currency": "EUR"}},
                            headers=manage)  # fmt: skip
    count = await api.patch(url, json={"max_redemptions": 1}, headers=manage)
    same = await api.patch(url, json={"discount": EUR, "max_redemptions": 2,
                                      "budget": {"amount": 2000, "currency": "EUR"}},
                           headers=manage)  # fmt: skip
    deleted = await api.delete(url, headers=manage)

    assert_problem(locked, 409, "discount_locked")
    assert_problem(below, 409, "budget_below_spent")
    assert_problem(count, 409, "count_below_used")
    assert same.status_code == 200, same.text
    assert same.json()["budget_remaining"] == 0
    assert_problem(deleted, 409, "has_redemptions")
    assert (await api.get(f"/v1/coupons/?campaign_id={campaign.id}", headers=manage)).json()[
        "results"
    ]


async def test_a_limit_set_later_counts_the_redemptions_made_before_it(api, redeem):
    campaign, codes = await campaign_with_codes()
    await spend(api, redeem, codes[0], customer_id="ann")

    await sync_to_async(campaign_service.update_campaign)(
        campaign.id, changes={"per_customer_limit": 1}
    )
    again = await spend(api, redeem, codes[1], customer_id="ann")

    assert_problem(again, 409, "customer_limit_reached")
    assert await sync_to_async(broken_campaign_counters)() == []
