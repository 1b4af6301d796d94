"""The redeemable rule is defined once (`coupons.domain.rules.refusal_for`); the SQL that
spends a use and the QuerySet filter restate it for the database. This pins both to it
over every edge: active or not, each side of each window bound (equal included), a use
left or none, and for a coupon with a discount, each kind of order (none, another
currency, each side of the minimum)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from coupons.db.raw import ORDER_FITS_SQL, REDEEMABLE_SQL
from coupons.domain.discounts import Discount, Order
from coupons.domain.rules import order_refusal_for, refusal_for
from coupons.models import Coupon
from tests.factories import make_coupon

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
STARTS: dict[str, Any] = {"none": None, "before": NOW - SECOND, "at": NOW, "after": NOW + SECOND}
EXPIRES: dict[str, Any] = {"none": None, "before": NOW - SECOND, "at": NOW, "after": NOW + SECOND}

CASES = [
    (active, start, end, remaining)
    for active, start, end, remaining in itertools.product([True, False], STARTS, EXPIRES, [0, 1])
    # The table's CHECK: a window opens before it closes.
    if STARTS[start] is None or EXPIRES[end] is None or STARTS[start] < EXPIRES[end]
]


def sql_says_redeemable(coupon: Coupon) -> bool:
    params = {"now": connection.ops.adapt_datetimefield_value(NOW), "id": coupon.pk}
    if connection.vendor != "postgresql":
        params["id"] = coupon.pk.hex
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {Coupon._meta.db_table} WHERE id = %(id)s AND {REDEEMABLE_SQL}",
            params,
        )
        return cursor.fetchone() is not None


@pytest.mark.parametrize(("active", "start", "end", "remaining"), CASES)
def test_the_sql_and_the_filter_agree_with_the_rule(active, start, end, remaining):
    coupon = Coupon.objects.create(
        code=f"RULE-{int(active)}-{start}-{end}-{remaining}",
        init_count=1,
        remaining_count=remaining,
        is_active=active,
        starts_at=STARTS[start],
        expires_at=EXPIRES[end],
    )
    by_rule = refusal_for(coupon, now=NOW, customer_id="c-1") is None

    assert sql_says_redeemable(coupon) is by_rule
    assert Coupon.objects.redeemable(NOW).filter(pk=coupon.pk).exists() is by_rule


def test_the_cases_cover_both_answers():
    answers = {
        refusal_for(
            Coupon(is_active=a, starts_at=STARTS[s], expires_at=EXPIRES[e], remaining_count=r),
            now=NOW,
            customer_id=None,
        )
        is None
        for a, s, e, r in CASES
    }
    assert answers == {True, False}


# The order, for a coupon with a discount: ORDER_FITS_SQL against order_refusal_for.

D = Decimal
DISCOUNTS: dict[str, Discount | None] = {
    "none": None,
    "percent-any-currency": Discount(percent_off=D("10")),
    "percent-eur": Discount(percent_off=D("10"), currency="EUR"),
    "percent-eur-min": Discount(percent_off=D("10"), currency="EUR", min_order_amount=2000),
    "amount-eur-min": Discount(amount_off=500, currency="EUR", min_order_amount=2000),
    "percent-any-capped": Discount(percent_off=D("10"), currency="EUR", max_amount_off=100),
}
ORDERS: dict[str, Order | None] = {
    "none": None,
    "eur-below": Order(1999, "EUR"),
    "eur-at": Order(2000, "EUR"),
    "eur-above": Order(2001, "EUR"),
    "usd-above": Order(5000, "USD"),
    "eur-zero": Order(0, "EUR"),
}


def sql_says_the_order_fits(coupon: Coupon, order: Order | None) -> bool:
    params = {
        "id": coupon.pk,
        "order_amount": None if order is None else order.amount,
        "currency": None if order is None else order.currency,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {Coupon._meta.db_table} WHERE id = %(id)s AND {ORDER_FITS_SQL}",
            params,
        )
        return cursor.fetchone() is not None


@pytest.mark.postgres
@pytest.mark.parametrize("discount", DISCOUNTS)
@pytest.mark.parametrize("order", ORDERS)
def test_the_order_sql_agrees_with_the_rule(discount, order):
    coupon = make_coupon(f"ORDER-{discount}-{order}", discount=DISCOUNTS[discount])
    by_rule = order_refusal_for(coupon.discount, order=ORDERS[order], order_required=True) is None

    assert sql_says_the_order_fits(coupon, ORDERS[order]) is by_rule


def test_the_order_cases_cover_every_answer():
    codes = {
        getattr(order_refusal_for(d, order=o, order_required=True), "code", None)
        for d in DISCOUNTS.values()
        for o in ORDERS.values()
    }
    assert codes == {None, "order_required", "currency_mismatch", "min_order_amount_not_met"}


def test_the_coupon_comes_before_the_order_and_the_customer_id_before_both():
    discounted = Coupon(
        is_active=False, remaining_count=1, per_customer_limit=1,
        discount_percent_off=D("10"), discount_currency="EUR",
    )  # fmt: skip
    assert refusal_for(discounted, now=NOW, customer_id=None, order_required=True).code == (
        "customer_id_required"
    )
    found = refusal_for(discounted, now=NOW, customer_id="c", order_required=True)
    assert found is not None and found.code == "coupon_inactive"
    discounted.is_active = True
    found = refusal_for(discounted, now=NOW, customer_id="c", order_required=True)
    assert found is not None and found.code == "order_required"
    found = refusal_for(discounted, now=NOW, customer_id="c", order=Order(1, "USD"))
    assert found is not None and found.code == "currency_mismatch"


# A campaign: the conditional UPDATE that takes its capacity and budget
# (coupons.db.campaign_sql) against campaign_refusal_for, over every edge of its window,
# capacity and budget, and each kind of order.

CAPACITY = {"none": (None, 0), "one-left": (2, 1), "full": (2, 2)}
# (budget, discount_total) for a discount of 500 EUR (at most the order).
BUDGETS = {"none": (None, 0), "exactly-enough": (1000, 500), "one-short": (1000, 501)}
CAMPAIGN_ORDERS = {
    "none": None, "eur": Order(2000, "EUR"), "eur-small": Order(100, "EUR"),
    "usd": Order(2000, "USD"),
}  # fmt: skip


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_campaign_sql_agrees_with_the_rule():
    from django.db import transaction

    from coupons.db.campaign_sql import spend_campaign_use
    from coupons.domain.discounts import discount_for
    from coupons.domain.rules import campaign_refusal_for
    from coupons.models.campaign import Campaign

    windows = [(a, s, e) for a, s, e, r in CASES if r == 1 and (a or (s, e) == ("none", "none"))]
    answers = set()
    for (active, start, end), capacity, budget, order in itertools.product(
        windows, CAPACITY, BUDGETS, CAMPAIGN_ORDERS
    ):
        (max_redemptions, count), (amount, total) = CAPACITY[capacity], BUDGETS[budget]
        given = CAMPAIGN_ORDERS[order]
        case = (active, start, end, capacity, budget, order)
        with transaction.atomic():
            campaign = Campaign.objects.create(
                name=str(case), is_active=active, starts_at=STARTS[start],
                expires_at=EXPIRES[end], max_redemptions=max_redemptions,
                redemption_count=count, discount_amount_off=500, discount_currency="EUR",
                budget_amount=amount, budget_currency=amount and "EUR", discount_total=total,
            )  # fmt: skip
            refusal = campaign_refusal_for(campaign, now=NOW, order=given, order_required=True)
            spent = spend_campaign_use(
                campaign_id=campaign.pk, customer_id="c", now=NOW,
                order_amount=given and given.amount, currency=given and given.currency,
            )  # fmt: skip
            transaction.set_rollback(True)
        answers.add(getattr(refusal, "code", None))
        assert (spent is not None) is (refusal is None), (case, refusal)
        if spent is not None:
            assert given is not None and campaign.discount is not None
            assert spent.discount_amount == discount_for(
                campaign.discount, order_amount=given.amount
            )
    assert answers == {
        None, "campaign_inactive", "campaign_not_started", "campaign_expired",
        "campaign_exhausted", "order_required", "currency_mismatch", "budget_exhausted",
    }  # fmt: skip
