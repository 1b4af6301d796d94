"""Bursts of concurrent requests against real server processes sharing one PostgreSQL.

These are the contract's "never oversold" promise, tested the way it breaks in shops:
many checkouts at the same instant, on more than one server process.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from access.services import api_keys
from coupons.domain.discounts import Discount, discount_for
from coupons.models import Coupon, Redemption
from tests.factories import broken_invariants, coupon_state, make_coupon
from tests.servers import Server

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def two_servers(burst_servers: list[Server]) -> list[Server]:
    return burst_servers  # the package's (conftest.py)


@pytest.fixture
def bearer(transactional_db: None) -> dict[str, str]:
    _, key = api_keys.create_api_key(name="burst", scope="manage")
    return {"Authorization": f"Bearer {key}"}


async def fire(
    requests: list[tuple[str, dict[str, Any], dict[str, str]]], headers: dict[str, str]
) -> list[httpx.Response]:
    """Send every request at once, each on its own connection."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        return await asyncio.gather(
            *(client.post(url, json=body, headers={**headers, **extra})
              for url, body, extra in requests)
        )  # fmt: skip


def warm_up(servers: list[Server], headers: dict[str, str], coupon: Coupon) -> None:
    async def gets() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(
                *(client.get(f"{server.url}/v1/coupons/{coupon.id}/", headers=headers)
                  for server in servers for _ in range(16))
            )  # fmt: skip

    assert {r.status_code for r in asyncio.run(gets())} == {200}


def burst_of_redemptions(
    servers: list[Server], headers: dict[str, str], *, code: str, attempts: int, **body: str
) -> list[httpx.Response]:
    no_headers: dict[str, str] = {}
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (f"{servers[i % len(servers)].url}/v1/redemptions/", {"code": code, **body}, no_headers)
        for i in range(attempts)
    ]
    return asyncio.run(fire(requests, headers))


def assert_exactly_the_uses_were_sold(
    answers: list[httpx.Response], coupon: Coupon, *, uses: int
) -> None:
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: uses, 409: len(answers) - uses}, statuses
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"coupon_exhausted"}
    sold = sorted(a.json()["remaining_count"] for a in answers if a.status_code == 201)
    assert sold == list(range(uses))  # each use sold once, counted down without gaps
    assert coupon_state(coupon.id) == (uses, 0, uses)
    assert Redemption.objects.filter(coupon=coupon).count() == uses
    assert broken_invariants() == []


def test_a_burst_of_400_redemptions_sells_exactly_50_uses(two_servers, bearer):
    coupon = make_coupon("BURST-50", init_count=50)

    answers = burst_of_redemptions(two_servers[:1], bearer, code="burst-50", attempts=400)

    assert_exactly_the_uses_were_sold(answers, coupon, uses=50)


def test_two_server_processes_sell_exactly_the_uses_between_them(two_servers, bearer):
    # 200 uses for 400 attempts: enough that both processes sell some even when the
    # machine's scheduler favours one of them for a while (with 50, one sometimes sold all).
    coupon = make_coupon("BURST-TWO", init_count=200)
    # Both processes warm (key cached, pool connections open), so that neither sells all
    # 50 while the other is still asking the database about the key.
    warm_up(two_servers, bearer, coupon)

    answers = burst_of_redemptions(two_servers, bearer, code="BURST-TWO", attempts=400)

    assert_exactly_the_uses_were_sold(answers, coupon, uses=200)
    # Both processes really served: each answered some of the 201s.
    by_server = Counter(a.request.url.port for a in answers if a.status_code == 201)
    assert len(by_server) == 2, by_server


def test_one_customer_racing_itself_gets_exactly_its_limit(two_servers, bearer):
    coupon = make_coupon("PER-CUSTOMER", init_count=100, per_customer_limit=2)

    answers = burst_of_redemptions(
        two_servers, bearer, code="PER-CUSTOMER", attempts=40, customer_id="racer"
    )

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 2, 409: 38}, statuses
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"customer_limit_reached"}
    assert coupon_state(coupon.id) == (100, 98, 2)


def test_identical_retries_on_two_servers_at_once_have_one_effect(two_servers, bearer):
    coupon = make_coupon("RETRIES", init_count=10)
    requests = [
        (
            f"{two_servers[i % 2].url}/v1/redemptions/",
            {"code": "RETRIES", "order_id": "o-1"},
            {"Idempotency-Key": "checkout-1"},
        )
        for i in range(30)
    ]

    answers = asyncio.run(fire(requests, bearer))

    assert {a.status_code for a in answers} == {201}
    assert len({a.content for a in answers}) == 1
    assert coupon_state(coupon.id) == (10, 9, 1)


def test_reverts_racing_redemptions_keep_the_count_equal_to_the_live_rows(two_servers, bearer):
    coupon = make_coupon("CHURN", init_count=30)
    first = burst_of_redemptions(two_servers, bearer, code="CHURN", attempts=30)
    to_revert = [a.json()["id"] for a in first if a.status_code == 201][:15]
    requests = [
        (f"{two_servers[i % 2].url}/v1/redemptions/{rid}/revert/", {}, {})
        for i, rid in enumerate(to_revert + to_revert)  # each one reverted twice at once
    ] + [(f"{two_servers[i % 2].url}/v1/redemptions/", {"code": "CHURN"}, {}) for i in range(40)]

    answers = asyncio.run(fire(requests, bearer))

    reverts, redemptions = answers[:30], answers[30:]
    assert Counter(a.status_code for a in reverts) == {200: 15, 409: 15}
    sold_again = sum(a.status_code == 201 for a in redemptions)
    assert sold_again <= 15
    assert all(a.status_code in (201, 409) for a in redemptions)
    assert coupon_state(coupon.id) == (30, 15 - sold_again, 15 + sold_again)
    assert broken_invariants() == []


def test_a_burst_of_discounted_redemptions_sells_exactly_the_uses_at_the_right_price(
    two_servers, bearer
):
    discount = Discount(
        percent_off=Decimal("12.5"), currency="EUR", max_amount_off=5000, min_order_amount=2000
    )
    coupon = make_coupon("BURST-OFF", init_count=40, discount=discount)
    warm_up(two_servers, bearer, coupon)
    # Each order its own amount, so that a discount recorded against another's order shows.
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (
            f"{two_servers[i % 2].url}/v1/redemptions/",
            {"code": "burst-off", "order_id": f"o-{i}",
             "order": {"amount": 2000 + 37 * i, "currency": "EUR"}},
            {},
        )
        for i in range(200)
    ]  # fmt: skip

    answers = asyncio.run(fire(requests, bearer))

    assert_exactly_the_uses_were_sold(answers, coupon, uses=40)
    rows = Redemption.objects.filter(coupon=coupon)
    for order_id, order_amount, currency, discount_amount in rows.values_list(
        "order_id", "order_amount", "currency", "discount_amount"
    ):
        assert order_amount == 2000 + 37 * int(order_id[2:]) and currency == "EUR"
        assert discount_amount == discount_for(discount, order_amount=order_amount)
    for answer in answers:
        if answer.status_code == 201:
            body = answer.json()
            assert body["discount_amount"] == discount_for(
                discount, order_amount=body["order_amount"]
            )


def test_server_logs_show_no_errors(two_servers: list[Server]) -> None:
    for server in two_servers:
        text = Path(server.log).read_text()
        assert "Traceback" not in text, text[-4000:]
