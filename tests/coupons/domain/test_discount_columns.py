"""The coupon's discount columns and the redemption's order columns: the database refuses
what the domain's rules refuse, and rows written without the new columns get {} and NULLs."""

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.domain.money import MAX_AMOUNT
from coupons.domain.discounts import Discount, discount_columns
from coupons.models import Coupon, Redemption

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def coupon(**fields):
    return Coupon.objects.create(
        code=f"C{uuid.uuid4().hex[:10]}", init_count=5, remaining_count=5, **fields
    )


def refused(constraint, make):
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        make()
    assert constraint in str(caught.value)


def test_a_discount_is_stored_and_read_back_equal():
    discount = Discount(
        percent_off=Decimal("12.5"), currency="EUR", max_amount_off=5000, min_order_amount=2000
    )
    saved = coupon(**discount_columns(discount), metadata={"campaign": "spring"})
    loaded = Coupon.objects.get(pk=saved.pk)

    assert loaded.discount == discount
    assert loaded.metadata == {"campaign": "spring"}
    assert coupon().discount is None


@pytest.mark.parametrize(
    ("constraint", "fields"),
    [
        ("coupon_discount_percent_or_amount",
         {"discount_percent_off": Decimal(10), "discount_amount_off": 1,
          "discount_currency": "EUR"}),
        ("coupon_discount_percent_in_range", {"discount_percent_off": Decimal(0)}),
        ("coupon_discount_percent_in_range", {"discount_percent_off": Decimal("100.01")}),
        ("coupon_discount_amount_off_in_range",
         {"discount_amount_off": -1, "discount_currency": "EUR"}),
        ("coupon_discount_amount_off_in_range",
         {"discount_amount_off": MAX_AMOUNT + 1, "discount_currency": "EUR"}),
        ("coupon_discount_max_amount_off_in_range",
         {"discount_percent_off": Decimal(5), "discount_max_amount_off": -1,
          "discount_currency": "EUR"}),
        ("coupon_discount_min_order_amount_in_range",
         {"discount_percent_off": Decimal(5), "discount_min_order_amount": MAX_AMOUNT + 1,
          "discount_currency": "EUR"}),
        ("coupon_discount_currency_where_needed", {"discount_amount_off": 100}),
        ("coupon_discount_currency_where_needed",
         {"discount_percent_off": Decimal(5), "discount_min_order_amount": 100}),
        ("coupon_discount_max_only_with_percent",
         {"discount_amount_off": 100, "discount_max_amount_off": 50, "discount_currency": "EUR"}),
        ("coupon_discount_parts_need_a_discount", {"discount_currency": "EUR"}),
        ("coupon_discount_parts_need_a_discount",
         {"discount_currency": "EUR", "discount_min_order_amount": 100}),
    ],
)  # fmt: skip
def test_the_database_refuses_a_discount_that_breaks_a_rule(constraint, fields):
    refused(constraint, lambda: coupon(**fields))


def redemption(target, **fields):
    return Redemption.objects.create(
        coupon=target, remaining_after=4, redeemed_at=timezone.now(), **fields
    )


def test_a_redemption_keeps_its_order_and_discount():
    saved = redemption(
        coupon(), order_amount=12999, currency="EUR", discount_amount=1625, metadata={"a": "b"}
    )
    loaded = Redemption.objects.get(pk=saved.pk)
    assert (loaded.order_amount, loaded.currency, loaded.discount_amount) == (12999, "EUR", 1625)
    assert loaded.metadata == {"a": "b"}


@pytest.mark.parametrize(
    ("constraint", "fields"),
    [
        ("redemption_order_amount_in_range", {"order_amount": -1, "currency": "EUR"}),
        ("redemption_order_amount_in_range", {"order_amount": MAX_AMOUNT + 1, "currency": "EUR"}),
        ("redemption_order_has_a_currency", {"order_amount": 100}),
        ("redemption_order_has_a_currency", {"currency": "EUR"}),
        ("redemption_discount_within_the_order",
         {"order_amount": 100, "currency": "EUR", "discount_amount": 101}),
        ("redemption_discount_within_the_order",
         {"order_amount": 100, "currency": "EUR", "discount_amount": -1}),
        ("redemption_discount_within_the_order", {"discount_amount": 0}),
    ],
)  # fmt: skip
def test_the_database_refuses_a_discount_outside_its_order(constraint, fields):
    target = coupon()
    refused(constraint, lambda: redemption(target, **fields))


def test_rows_inserted_without_the_new_columns_get_empty_metadata_and_nulls():
    """The services' hand-written INSERTs name their columns; they keep working."""
    coupon_id, redemption_id = uuid.uuid4(), uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO coupons_coupon (id, code, init_count, remaining_count, is_active,"
            " created_at, updated_at) VALUES (%s, 'RAW', 1, 1, true, now(), now())",
            [coupon_id],
        )
        cursor.execute(
            "INSERT INTO coupons_redemption (id, coupon_id, remaining_after, redeemed_at)"
            " VALUES (%s, %s, 0, now())",
            [redemption_id, coupon_id],
        )
    raw = Coupon.objects.get(pk=coupon_id)
    assert raw.metadata == {} and raw.discount is None
    row = Redemption.objects.get(pk=redemption_id)
    assert row.metadata == {}
    assert (row.order_amount, row.currency, row.discount_amount) == (None, None, None)
