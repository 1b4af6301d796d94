"""A group's writes (coupons.services.group_spending.write_group): a two-code group locks its
coupons in one statement and writes everything in one more, its answer is what reading it
back answers, its events are the answer's, and a refusal writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access.api.idempotency import stored_json
from core.errors import CouponExhausted, CustomerLimitReached
from coupons.models import Campaign, Coupon, Redemption, RedemptionGroup, Reservation
from coupons.services import campaigns as campaign_service
from coupons.services.coupons import get_coupon
from coupons.services.groups import get_redemption_group, redeem_codes
from coupons.services.hold_groups import get_reservation_group, hold_codes
from coupons.services.ledger_events import with_coupon_count
from coupons.shapes import (
    CAMPAIGN,
    COUPON,
    REDEMPTION,
    REDEMPTION_GROUP,
    RESERVATION,
    RESERVATION_GROUP,
)
from events.models import Event
from tests.campaigns import broken_campaign_counters
from tests.factories import broken_invariants, make_coupon

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SHOES20 = {"percent_off": 20, "applies_to": {"categories": ["shoes"]},
           "combines_with": {"order": True}}  # fmt: skip
ALL10 = {"percent_off": 10, "combines_with": {"product": True}}
CART = {
    "amount": 10000,
    "currency": "EUR",
    "lines": [
        {"id": "shoes", "categories": ["shoes"], "quantity": 1, "unit_amount": 6000},
        {"id": "hats", "categories": ["hats"], "quantity": 2, "unit_amount": 2000},
    ],
    "shipping_amount": 500,
}
# Keys jsonb orders otherwise than they were sent (shorter first).
METADATA = {"checkout_session": "s-1", "z": "last", "ab": "two"}


def events_in_order() -> list[tuple[str, dict[str, Any]]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT type, data FROM coupons_event ORDER BY txid, position")
        return [(type_, json.loads(data)) for type_, data in cursor.fetchall()]


def test_a_two_code_group_takes_one_statement_to_lock_and_one_to_write() -> None:
    make_coupon("GP-1", discount=SHOES20)
    make_coupon("GO-1", discount=ALL10)

    with CaptureQueriesContext(connection) as queries:
        group = redeem_codes(
            codes=["gp-1", "GO-1"], customer_id="c-1", order_id="o-1", order=CART,
            metadata=METADATA,
        )  # fmt: skip

    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    # The coupons looked up and locked; the uses, group, redemptions and events written.
    assert len(statements) == 2, statements
    assert "FOR UPDATE" in statements[0]
    assert [r.code for r in group.redemptions] == ["GP-1", "GO-1"]
    assert Redemption.objects.filter(group_id=group.id).count() == 2
    assert sorted(Coupon.objects.values_list("remaining_count", flat=True)) == [9, 9]
    assert broken_invariants() == []


def test_the_group_answers_byte_for_byte_what_reading_it_back_answers() -> None:
    make_coupon("GP-2", discount=SHOES20)
    make_coupon("GO-2", discount=ALL10)

    group = redeem_codes(
        codes=["GO-2", "GP-2"], customer_id="c-1", order_id="o-1", order=CART, metadata=METADATA
    )

    answer = stored_json(REDEMPTION_GROUP(group), status=201)
    assert answer == stored_json(REDEMPTION_GROUP(get_redemption_group(group.id)), status=201)


def test_a_reservation_group_answers_byte_for_byte_what_reading_it_back_answers() -> None:
    make_coupon("GP-3", discount=SHOES20)
    make_coupon("GO-3", discount=ALL10, init_count=1)

    group = hold_codes(
        codes=["GP-3", "GO-3"], customer_id="c-1", order_id="o-1", order=CART, metadata=METADATA
    )

    answer = stored_json(RESERVATION_GROUP(group), status=201)
    read = get_reservation_group(group.id)
    assert answer == stored_json(RESERVATION_GROUP(read), status=201)
    held = [e for e in events_in_order() if e[0] != "coupon.created"]
    assert held == [
        ("reservation.created", RESERVATION(group.reservations[0])),
        ("reservation.created", RESERVATION(group.reservations[1])),
        ("coupon.exhausted", COUPON(get_coupon(group.reservations[1].coupon_id))),
    ]
    assert held[2][1]["held_count"] == 1
    assert Reservation.objects.filter(group_id=group.id).count() == 2
    assert broken_invariants() == []


def test_the_events_written_are_the_answers_and_a_last_use_or_budget_s() -> None:
    campaign = campaign_service.create_campaign(
        name="C", discount={**ALL10, "currency": "EUR"}, budget={"amount": 880, "currency": "EUR"}
    )
    make_coupon("BF-1", campaign_id=campaign.id)
    make_coupon("GP-4", discount=SHOES20, init_count=1)

    group = redeem_codes(codes=["BF-1", "GP-4"], order={**CART, "shipping_amount": None})

    written = [e for e in events_in_order() if not e[0].endswith(".created") or "group_id" in e[1]]
    first, second = group.redemptions
    assert (first.code, first.discount_amount, second.discount_amount) == ("GP-4", 1200, 880)
    assert written == [
        ("redemption.created", REDEMPTION(first)),
        ("coupon.exhausted", COUPON(get_coupon(first.coupon_id))),
        ("redemption.created", REDEMPTION(second)),
        ("campaign.budget_exhausted", CAMPAIGN(with_coupon_count(campaign.id))),
    ]
    assert [data for _, data in written[::2]] == [
        REDEMPTION(r) for r in get_redemption_group(group.id).redemptions
    ]
    assert broken_campaign_counters() == []


def test_a_refused_group_writes_nothing() -> None:
    campaign = campaign_service.create_campaign(
        name="C", discount={**ALL10, "currency": "EUR"}, per_customer_limit=1
    )
    make_coupon("BF-5", campaign_id=campaign.id)
    make_coupon("GP-5", discount=SHOES20)
    make_coupon("LAST-5", init_count=1)
    redeem_codes(codes=["LAST-5"], order=CART)
    redeem_codes(codes=["BF-5"], customer_id="c-1", order=CART)
    before = (Event.objects.count(), Redemption.objects.count(), RedemptionGroup.objects.count())
    counters = list(Coupon.objects.order_by("code").values_list("remaining_count", "updated_at"))

    with pytest.raises(CouponExhausted) as exhausted:
        redeem_codes(codes=["GP-5", "LAST-5"], order=CART)
    # Refused by its slot, taken after the campaign's UPDATE: that rolls back too.
    with pytest.raises(CustomerLimitReached) as limited:
        redeem_codes(codes=["GP-5", "BF-5"], customer_id="c-1", order=CART)

    assert exhausted.value.data["details"] == {"code": "LAST-5"}
    assert limited.value.data["details"] == {"code": "BF-5"}
    after = (Event.objects.count(), Redemption.objects.count(), RedemptionGroup.objects.count())
    assert after == before
    assert (
        list(Coupon.objects.order_by("code").values_list("remaining_count", "updated_at"))
        == counters
    )
    row = Campaign.objects.get(pk=campaign.id)
    assert (row.redemption_count, row.discount_total) == (1, 1000)
