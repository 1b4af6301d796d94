"""The SQL expression computes the same discount as discount_for, in PostgreSQL itself."""

import itertools
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.domain.money import MAX_AMOUNT
from coupons.db.discount_sql import discount_sql
from coupons.domain.discounts import Discount, Order, discount_for
from coupons.models import Redemption
from coupons.services.coupons import create_coupon
from coupons.services.redemptions import redeem_coupon

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

D = Decimal
EXPRESSION = discount_sql(
    order_amount="%(order_amount)s",
    percent_off="%(percent_off)s",
    amount_off="%(amount_off)s",
    max_amount_off="%(max_amount_off)s",
)


def in_postgres(discount: Discount | None, order_amount: int) -> int | None:
    params = {
        "order_amount": order_amount,
        "percent_off": discount.percent_off if discount else None,
        "amount_off": discount.amount_off if discount else None,
        "max_amount_off": discount.max_amount_off if discount else None,
    }
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {EXPRESSION}", params)
        (value,) = cursor.fetchone()
    assert value is None or type(value) is int  # bigint, not numeric
    return value


def pct(value, cap=None):
    return Discount(
        percent_off=D(value), max_amount_off=cap, currency=None if cap is None else "EUR"
    )


@pytest.mark.parametrize(
    ("discount", "order_amount"),
    [
        (pct("10"), 0),
        (pct("10"), 1),
        (pct("12.5"), 999),  # 124.875 -> 125
        (pct("12.5"), 1999),  # 249.875 -> 250
        (pct("50"), 1),  # 0.5 -> 1
        (pct("50"), 3),  # 1.5 -> 2
        (pct("50"), 5),  # 2.5 -> 3
        (pct("0.01"), 5000),  # 0.5 -> 1
        (pct("0.01"), 4999),
        (pct("16.15"), 1000),  # 161.5 -> 162
        (pct("33.33"), 1000),
        (pct("100"), 999),
        (pct("100"), MAX_AMOUNT),
        (pct("99.99"), MAX_AMOUNT),
        (pct("99.99"), MAX_AMOUNT - 1),
        (pct("20", cap=5000), 100_000),  # capped
        (pct("20", cap=5000), 10_000),  # under the cap
        (pct("20", cap=0), 10_000),
        (pct("100", cap=MAX_AMOUNT), MAX_AMOUNT),
        (Discount(amount_off=500, currency="EUR"), 1000),
        (Discount(amount_off=500, currency="EUR"), 500),
        (Discount(amount_off=500, currency="EUR"), 300),  # above the order
        (Discount(amount_off=500, currency="EUR"), 0),
        (Discount(amount_off=MAX_AMOUNT, currency="EUR"), MAX_AMOUNT),
    ],
)
def test_the_sql_expression_agrees_with_discount_for(discount, order_amount):
    assert in_postgres(discount, order_amount) == discount_for(discount, order_amount=order_amount)


def test_without_a_discount_the_expression_is_null_not_the_order():
    # LEAST() skips NULLs: a careless expression would give away the whole order.
    assert in_postgres(None, 1000) is None


PERCENT_DISCOUNTS = st.builds(
    Discount,
    percent_off=st.integers(1, 10_000).map(lambda hundredths: D(hundredths).scaleb(-2)),
    max_amount_off=st.none() | st.integers(0, MAX_AMOUNT),
    currency=st.just("EUR"),
)
AMOUNT_DISCOUNTS = st.builds(
    Discount, amount_off=st.integers(0, MAX_AMOUNT), currency=st.just("EUR")
)
ORDERS = st.integers(0, MAX_AMOUNT) | st.integers(0, 100_000)


# One SELECT per example inside the test's transaction; the fixture's database is reused.
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(discount=PERCENT_DISCOUNTS | AMOUNT_DISCOUNTS, order_amount=ORDERS)
def test_the_sql_expression_agrees_with_discount_for_on_random_values(discount, order_amount):
    assert in_postgres(discount, order_amount) == discount_for(discount, order_amount=order_amount)


def test_the_expression_takes_column_names_and_placeholders_only():
    assert "coupons_coupon.discount_percent_off" in discount_sql(
        order_amount="$1",
        percent_off="coupons_coupon.discount_percent_off",
        amount_off='"c"."discount_amount_off"',
        max_amount_off="%s",
    )
    for bad in ["1; DROP TABLE x", "'1'", "a b", "f(x)", ""]:
        with pytest.raises(ValueError, match="column or a placeholder"):
            discount_sql(order_amount=bad, percent_off="p", amount_off="a", max_amount_off="m")


# The redemption's own statement (coupons.db.redemption_sql.spend_and_record) and the general path
# (a per-customer limit) record what discount_for says, on random discounts and orders.
_codes = itertools.count()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    discount=PERCENT_DISCOUNTS | AMOUNT_DISCOUNTS,
    order_amount=ORDERS,
    limit=st.sampled_from([None, 3]),
)
def test_a_discounted_redemption_records_what_discount_for_says(discount, order_amount, limit):
    coupon = create_coupon(
        code=f"PIN-{next(_codes)}", init_count=1, discount=discount, per_customer_limit=limit
    )

    record = redeem_coupon(code=coupon.code, customer_id="c-1", order=Order(order_amount, "EUR"))

    expected = discount_for(discount, order_amount=order_amount)
    assert record.discount_amount == expected
    stored = Redemption.objects.get(pk=record.id)
    assert (stored.order_amount, stored.currency, stored.discount_amount) == (
        order_amount, "EUR", expected,
    )  # fmt: skip
