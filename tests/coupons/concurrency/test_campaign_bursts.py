"""Bursts over many codes of ONE campaign, on one server process and on two: the campaign
is never overspent (budget), never oversold (max_redemptions), and a customer never gets
more than the campaign's limit, however the redemptions interleave."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from access.services import api_keys
from coupons.models import Campaign, Coupon
from coupons.services import campaigns
from coupons.services.batches import create_coupon_batch
from tests.campaigns import broken_campaign_counters, campaign_sums
from tests.coupons.concurrency.test_bursts import fire
from tests.factories import broken_invariants
from tests.servers import Server

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CODES = 400


@pytest.fixture(scope="module")
def servers(burst_servers: list[Server]) -> list[Server]:
    return burst_servers  # the package's (conftest.py)


@pytest.fixture
def bearer(transactional_db: None) -> dict[str, str]:
    _, key = api_keys.create_api_key(name="campaign-burst", scope="manage")
    return {"Authorization": f"Bearer {key}"}


def campaign_of_codes(**fields: Any) -> tuple[Campaign, list[str]]:
    campaign = campaigns.create_campaign(name=f"burst-{uuid.uuid4().hex[:6]}", **fields)
    codes = create_coupon_batch(
        count=CODES, prefix="CB-", length=10, init_count=1, campaign_id=campaign.id
    )
    return campaign, codes


def warm(servers: list[Server], headers: dict[str, str]) -> None:
    async def gets() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(
                *(client.get(f"{s.url}/v1/campaigns/", headers=headers)
                  for s in servers for _ in range(16))
            )  # fmt: skip

    assert {r.status_code for r in asyncio.run(gets())} == {200}


def burst(
    servers: list[Server], headers: dict[str, str], bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    warm(servers, headers)
    no_headers: dict[str, str] = {}
    requests = [
        (f"{servers[i % len(servers)].url}/v1/redemptions/", body, no_headers)
        for i, body in enumerate(bodies)
    ]
    return asyncio.run(fire(requests, headers))


def assert_counters_are_the_rows(campaign: Campaign, *, count: int, total: int) -> None:
    campaign.refresh_from_db()
    assert (campaign.redemption_count, campaign.discount_total) == (count, total)
    assert campaign_sums(campaign) == (count, total)
    assert campaign.held_count == 0
    assert broken_campaign_counters() == []
    assert broken_invariants() == []


def statuses(answers: list[httpx.Response]) -> Counter[tuple[int, str | None]]:
    return Counter(
        (a.status_code, None if a.status_code == 201 else a.json()["code"]) for a in answers
    )


@pytest.mark.parametrize("processes", [1, 2])
def test_a_burst_over_400_codes_spends_exactly_the_budget(servers, bearer, processes):
    # 100 off each order, a budget of 5,000: exactly 50 redemptions fit.
    campaign, codes = campaign_of_codes(
        discount={"amount_off": 100, "currency": "EUR"},
        budget={"amount": 5000, "currency": "EUR"},
    )
    bodies = [{"code": code, "order": {"amount": 1000, "currency": "EUR"}} for code in codes]

    answers = burst(servers[:processes], bearer, bodies)

    assert statuses(answers) == {(201, None): 50, (409, "budget_exhausted"): CODES - 50}
    assert_counters_are_the_rows(campaign, count=50, total=5000)
    assert Coupon.objects.filter(campaign=campaign, remaining_count=0).count() == 50
    if processes == 2:
        by_server = Counter(a.request.url.port for a in answers if a.status_code == 201)
        assert len(by_server) == 2, by_server


@pytest.mark.parametrize("processes", [1, 2])
def test_a_burst_over_400_codes_sells_exactly_max_redemptions(servers, bearer, processes):
    campaign, codes = campaign_of_codes(max_redemptions=50)

    answers = burst(servers[:processes], bearer, [{"code": code} for code in codes])

    assert statuses(answers) == {(201, None): 50, (409, "campaign_exhausted"): CODES - 50}
    assert_counters_are_the_rows(campaign, count=50, total=0)


@pytest.mark.parametrize("processes", [1, 2])
def test_customers_racing_over_many_codes_get_exactly_the_campaign_limit(
    servers, bearer, processes
):
    # 20 customers, 20 distinct codes each, all at once; 2 each across the campaign.
    campaign, codes = campaign_of_codes(per_customer_limit=2)
    bodies = [{"code": code, "customer_id": f"c-{i % 20}"} for i, code in enumerate(codes)]

    answers = burst(servers[:processes], bearer, bodies)

    assert statuses(answers) == {(201, None): 40, (409, "customer_limit_reached"): CODES - 40}
    won = Counter(a.json()["customer_id"] for a in answers if a.status_code == 201)
    assert won == {f"c-{i}": 2 for i in range(20)}
    assert_counters_are_the_rows(campaign, count=40, total=0)


def test_reverts_racing_redemptions_give_back_exactly_what_they_took(servers, bearer):
    # Reverts lock redemption, coupon, campaign; redemptions coupon, campaign: one order,
    # so the two kinds racing on one campaign row neither deadlock nor lose a count.
    campaign, codes = campaign_of_codes(
        discount={"amount_off": 100, "currency": "EUR"},
        budget={"amount": 5000, "currency": "EUR"},
    )
    order = {"amount": 1000, "currency": "EUR"}
    first = burst(servers, bearer, [{"code": code, "order": order} for code in codes[:50]])
    spent = [a.json()["id"] for a in first if a.status_code == 201]
    assert len(spent) == 50
    requests = [
        (f"{servers[i % 2].url}/v1/redemptions/{rid}/revert/", {}, {})
        for i, rid in enumerate(spent[:25])
    ] + [
        (f"{servers[i % 2].url}/v1/redemptions/", {"code": code, "order": order}, {})
        for i, code in enumerate(codes[50:250])
    ]

    answers = asyncio.run(fire(requests, bearer))

    reverts, redemptions = answers[:25], answers[25:]
    assert {a.status_code for a in reverts} == {200}
    sold_again = sum(a.status_code == 201 for a in redemptions)
    assert sold_again <= 25
    assert {a.json()["code"] for a in redemptions if a.status_code != 201} <= {"budget_exhausted"}
    assert_counters_are_the_rows(campaign, count=25 + sold_again, total=100 * (25 + sold_again))


def test_campaign_server_logs_show_no_errors(servers: list[Server]) -> None:
    for server in servers:
        text = server.log.read_text()
        assert "Traceback" not in text, text[-4000:]
        assert "deadlock" not in text.lower(), text[-4000:]
