"""Bursts of overlapping groups of codes on two server processes (issue 26): groups that share
codes and a campaign with a budget and a per-customer limit, each sent in both orders of its
codes, all at once. None deadlocks (no 500, no timeout), nothing is oversold or overspent,
every 201 is exactly the rows it claims, and every refusal is a 409 naming one of its codes;
the counts are taken from the rows at the end. Reservation groups too: held, then confirmed
and released at the same instant."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from access.services import api_keys
from coupons.models import (
    Campaign,
    Redemption,
    RedemptionGroup,
    Reservation,
    ReservationGroup,
    ReservationStatus,
)
from coupons.services import campaigns
from tests.campaigns import broken_campaign_counters
from tests.coupons.concurrency.test_bursts import fire
from tests.factories import broken_invariants, make_coupon
from tests.servers import Server

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CART = {
    "currency": "EUR",
    "lines": [
        {"id": "shoes", "categories": ["shoes"], "quantity": 1, "unit_amount": 6000},
        {"id": "hats", "categories": ["hats"], "quantity": 1, "unit_amount": 4000},
    ],
}
REFUSALS = {"coupon_exhausted", "budget_exhausted", "customer_limit_reached",
            "campaign_exhausted"}  # fmt: skip
# Prime to the twelve (six shapes in two orders): each customer sends every shape.
CUSTOMERS = 13


@pytest.fixture(scope="module")
def servers(burst_servers: list[Server]) -> list[Server]:
    return burst_servers  # the package's (conftest.py)


@pytest.fixture
def headers(transactional_db: None) -> dict[str, str]:
    _, key = api_keys.create_api_key(name=f"groups-{uuid.uuid4().hex[:6]}", scope="redeem")
    return {"Authorization": f"Bearer {key}"}


def shared_codes() -> Campaign:
    """SHOES (20 % off shoes), X and Y (no discount), and K-1 to K-3 of a campaign (10 % off
    the order, one use per customer, a budget of five or six uses): few uses for many
    groups, so that they race for every one."""
    make_coupon("SHOES", init_count=20, discount={
        "percent_off": 20, "applies_to": {"categories": ["shoes"]},
        "combines_with": {"order": True}})  # fmt: skip
    make_coupon("X", init_count=25)
    make_coupon("Y", init_count=25)
    campaign = campaigns.create_campaign(
        name="K", per_customer_limit=1, budget={"amount": 5_000, "currency": "EUR"},
        discount={"percent_off": 10, "currency": "EUR", "combines_with": {"product": True}},
    )  # fmt: skip
    for n in (1, 2, 3):
        make_coupon(f"K-{n}", init_count=15, campaign_id=campaign.id)
    return campaign


def overlapping_groups(count: int) -> list[list[str]]:
    """`count` groups of shared codes, each combination sent in both orders in turn."""
    shapes = [["SHOES", "K"], ["X", "K"], ["X", "Y"], ["SHOES", "X", "K"], ["Y", "K", "SHOES"],
              ["X", "SHOES"]]  # fmt: skip
    groups = []
    for i in range(count):
        codes = [f"K-{i % 3 + 1}" if c == "K" else c for c in shapes[(i // 2) % len(shapes)]]
        groups.append(codes if i % 2 == 0 else codes[::-1])
    return groups


def post_all(
    servers: list[Server], headers: dict[str, str], posts: list[tuple[str, dict[str, Any]]]
) -> list[httpx.Response]:
    """Every POST at once, alternately on each server; each one a success or a 409 (a 500
    or a timeout, a deadlock's signs, fails here)."""
    none: dict[str, str] = {}
    requests = [
        (f"{servers[i % len(servers)].url}{path}", body, none)
        for i, (path, body) in enumerate(posts)
    ]
    answers = asyncio.run(fire(requests, headers))
    for answer in answers:
        assert answer.status_code in (200, 201, 409), answer.text
    return answers


def assert_refusals_name_one_of_their_codes(
    answers: list[httpx.Response], allowed: set[str]
) -> None:
    for answer in answers:
        if answer.status_code == 409:
            problem = answer.json()
            assert problem["code"] in allowed, problem
            sent = {code.upper() for code in _sent(answer)["codes"]}
            assert problem["details"]["code"].upper() in sent, problem


def _sent(answer: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(answer.request.content)
    return body


def assert_the_rows_are_the_answers(answers: list[httpx.Response], members: str) -> None:
    """Each 201 is one group row whose members are exactly the codes it was sent, with the
    discounts it answered; and no group exists that no 201 announced."""
    won = [a for a in answers if a.status_code == 201]
    for answer in won:
        body = answer.json()
        sent = sorted(code.upper() for code in _sent(answer)["codes"])
        assert sorted(m["code"] for m in body[members]) == sent, body
        assert {m["group_id"] for m in body[members]} == {body["id"]}
        model = Redemption if members == "redemptions" else Reservation
        rows = dict(model.objects.filter(group_id=body["id"]).values_list("id", "discount_amount"))
        assert rows == {uuid.UUID(m["id"]): m["discount_amount"] for m in body[members]}
        assert sum(m["discount_amount"] or 0 for m in body[members]) == body["discount_amount"]
    group_model = RedemptionGroup if members == "redemptions" else ReservationGroup
    assert set(group_model.objects.values_list("id", flat=True)) >= {
        uuid.UUID(a.json()["id"]) for a in won
    }


def assert_never_oversold_nor_overspent(campaign: Campaign) -> None:
    assert broken_invariants() == []  # every coupon: init - remaining = live + held
    assert broken_campaign_counters() == []  # counters = rows, within budget and limits
    campaign.refresh_from_db()
    assert campaign.budget_amount is not None
    assert campaign.discount_total <= campaign.budget_amount
    # One use per customer across the campaign's codes, redeemed or held.
    uses = Counter(
        Redemption.objects.filter(coupon__campaign=campaign, reverted_at__isnull=True)
        .values_list("customer_id", flat=True)
    ) + Counter(
        Reservation.objects.filter(coupon__campaign=campaign, status=ReservationStatus.HELD)
        .values_list("customer_id", flat=True)
    )  # fmt: skip
    assert max(uses.values(), default=0) <= 1, uses


def test_overlapping_groups_in_both_orders_neither_deadlock_nor_oversell(servers, headers):
    campaign = shared_codes()
    groups = overlapping_groups(160)
    posts = [
        ("/v1/redemption-groups/",
         {"codes": codes, "order": CART, "customer_id": f"c-{i % CUSTOMERS}"})
        for i, codes in enumerate(groups)
    ]  # fmt: skip

    answers = post_all(servers, headers, posts)

    statuses = Counter(a.status_code for a in answers)
    assert statuses[201] and statuses[409], statuses  # they raced, and some lost
    refusals = Counter(a.json()["code"] for a in answers if a.status_code == 409)
    # The uses, the budget and the customers' limit each ran out.
    assert refusals.keys() >= {"coupon_exhausted", "budget_exhausted"}, refusals
    assert_refusals_name_one_of_their_codes(answers, REFUSALS)
    assert_the_rows_are_the_answers(answers, "redemptions")
    assert RedemptionGroup.objects.count() == statuses[201]
    assert Redemption.objects.count() == sum(
        len(a.json()["redemptions"]) for a in answers if a.status_code == 201
    )
    assert_never_oversold_nor_overspent(campaign)
    by_server = Counter(a.request.url.port for a in answers if a.status_code == 201)
    assert len(by_server) == 2, by_server


def test_reservation_groups_held_then_confirmed_and_released_at_once(servers, headers):
    campaign = shared_codes()
    groups = overlapping_groups(120)

    def body(i: int, codes: list[str]) -> dict[str, Any]:
        return {"codes": codes, "order": CART, "customer_id": f"c-{i % CUSTOMERS}"}

    # Round 1: holds and redemptions of overlapping groups at once.
    first = post_all(servers, headers, [
        ("/v1/reservation-groups/" if i % 3 else "/v1/redemption-groups/", body(i, codes))
        for i, codes in enumerate(groups)
    ])  # fmt: skip
    assert_refusals_name_one_of_their_codes(first, REFUSALS)
    held = [a.json()["id"] for a in first if a.status_code == 201 and "reservations" in a.json()]
    assert held, Counter(a.status_code for a in first)
    assert_the_rows_are_the_answers(
        [a for a in first if "reservation-groups" in a.request.url.path], "reservations"
    )
    assert_never_oversold_nor_overspent(campaign)

    # Round 2: each held group confirmed and released at the same instant, beside more
    # groups redeemed: exactly one of the two wins each group.
    second = post_all(servers, headers, [
        *((f"/v1/reservation-groups/{g}/confirm/", {}) for g in held),
        *((f"/v1/reservation-groups/{g}/release/", {}) for g in held),
        *(("/v1/redemption-groups/", body(i, codes)) for i, codes in enumerate(groups[:40])),
    ])  # fmt: skip
    confirms, releases = second[: len(held)], second[len(held) : 2 * len(held)]
    for group_id, confirm, release in zip(held, confirms, releases, strict=True):
        outcome = (confirm.status_code, release.status_code)
        assert outcome in ((201, 409), (409, 200)), (group_id, confirm.text, release.text)
        loser = release if outcome == (201, 409) else confirm
        expected = "already_confirmed" if outcome == (201, 409) else "reservation_released"
        assert loser.json()["code"] == expected, loser.text
    confirmed = sum(c.status_code == 201 for c in confirms)
    assert ReservationGroup.objects.filter(status="confirmed").count() == confirmed
    assert ReservationGroup.objects.filter(status="released").count() == len(held) - confirmed
    assert not Reservation.objects.filter(status=ReservationStatus.HELD).exists()
    assert_refusals_name_one_of_their_codes(second[2 * len(held) :], REFUSALS)
    assert_the_rows_are_the_answers(second[2 * len(held) :], "redemptions")
    assert_never_oversold_nor_overspent(campaign)


def test_server_logs_show_no_errors(servers: list[Server]) -> None:
    for server in servers:
        text = Path(server.log).read_text()
        assert "Traceback" not in text and "deadlock" not in text.lower(), text[-4000:]
