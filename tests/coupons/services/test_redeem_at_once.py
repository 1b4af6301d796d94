"""The one-statement redemption keeping an Idempotency-Key's answer in the statement that
spends (a flash sale's hot row is locked for that statement and its commit only)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.api.idempotency import stored_json
from access.models import IdempotencyRecord
from access.services.api_keys import create_api_key
from access.services.idempotency import KeptBy, StoredAnswer
from coupons.db import raw
from coupons.domain.allocation import allocations_json
from coupons.domain.carts import order_refusal_of, price_order
from coupons.domain.discounts import Discount, Order
from coupons.domain.orders import Line, lines_total
from coupons.domain.targeting import selector_from_json
from coupons.models import Coupon, Redemption
from coupons.services.coupons import create_coupon
from coupons.services.redemptions import (
    RedemptionRecord,
    get_redemption,
    redeem_at_once,
    redeem_coupon,
)
from coupons.shapes import REDEMPTION
from events.models import Event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def render(redemption: RedemptionRecord) -> StoredAnswer:
    location = f"http://testserver/v1/redemptions/{redemption.id}/"
    return stored_json(REDEMPTION(redemption), status=201, headers={"Location": location})


def keep(key: str) -> KeptBy:
    api_key, _ = create_api_key(name="checkout", scope="redeem")
    return KeptBy(api_key_id=api_key.id, key=key, fingerprint="f" * 64)


@pytest.mark.parametrize(
    ("discount", "fields"),
    [
        (None, {}),
        (
            Discount(percent_off=Decimal("12.5"), currency="EUR", max_amount_off=100),
            {"order": Order(amount=999, currency="EUR"), "order_id": "o-\"1\"",
             "metadata": {"note": "hole-code-0"}},
        ),
    ],
)  # fmt: skip
def test_the_answer_is_kept_by_the_statement_that_spends(discount: Any, fields: Any) -> None:
    create_coupon(code="Flash-1", init_count=3, discount=discount)
    kept_by = keep("k-1")

    with CaptureQueriesContext(connection) as queries:
        answer = redeem_at_once(code="FLASH-1", render=render, keep=kept_by, **fields)

    assert answer is not None
    assert len(queries) == 1  # spend, redemption, event and kept answer: one statement
    redemption = Redemption.objects.get()
    # Byte for byte what the answer of the same redemption read back renders.
    assert answer == render(get_redemption(redemption.id))
    assert REDEMPTION(get_redemption(redemption.id))["code"] == "Flash-1"
    kept = IdempotencyRecord.objects.get()
    assert (kept.key, kept.status_code, kept.body.encode(), kept.headers) == (
        "k-1", 201, answer.body, answer.headers,
    )  # fmt: skip
    assert Event.objects.get(type="redemption.created").data == REDEMPTION(
        get_redemption(redemption.id)
    )


def test_where_the_statement_does_not_apply_nothing_is_written() -> None:
    create_coupon(code="LAST-ONE", init_count=1)  # the last use takes the general path
    kept_by = keep("k-2")

    assert redeem_at_once(code="last-one", render=render, keep=kept_by) is None

    assert not IdempotencyRecord.objects.exists()
    assert not Redemption.objects.exists()
    assert Coupon.objects.get().remaining_count == 1


# A cart: ten lines, every other one shoes (the bench's), and shipping.
ON_SHOES = selector_from_json({"categories": ["shoes"]})
SHOES = Discount(percent_off=Decimal(15), currency="EUR", applies_to=ON_SHOES)
LINES = tuple(
    Line(id=f"l{i}", product_id=f"p-{i}", categories=("shoes" if i % 2 else "hats",),
         quantity=1 + i % 3, unit_amount=1999 + 100 * i)
    for i in range(1, 11)
)  # fmt: skip


def cart(lines: tuple[Line, ...] = LINES, shipping: int | None = 495) -> Order:
    return Order(amount=lines_total(lines), currency="EUR", lines=lines, shipping_amount=shipping)


@pytest.mark.parametrize("kept", [False, True])
def test_a_cart_with_a_targeted_discount_is_redeemed_by_one_read_and_one_statement(
    kept: bool,
) -> None:
    create_coupon(code="Cart-1", init_count=5, discount=SHOES)
    create_coupon(code="Cart-2", init_count=5, discount=SHOES)
    kept_by = keep("k-cart") if kept else None

    with CaptureQueriesContext(connection) as queries:
        answer = redeem_at_once(
            code="cart-1", render=render, keep=kept_by, order=cart(), customer_id="c-1",
            order_id="o-1", metadata={"note": "n"},
        )  # fmt: skip

    assert answer is not None
    # The coupon read, then spend, redemption, event (and kept answer): one statement.
    assert len(queries) == 2
    redemption = Redemption.objects.get()
    read_back = get_redemption(redemption.id)
    assert json.loads(answer.body) == REDEMPTION(read_back)
    assert Event.objects.get(type="redemption.created").data == REDEMPTION(read_back)
    if kept_by is not None:
        assert IdempotencyRecord.objects.get().body.encode() == answer.body
    # Byte for byte the general path's answer for the same cart on a twin coupon (its
    # lines' keys in the order given: a GET's come back in jsonb's order).
    general = redeem_coupon(
        code="cart-2", at_once=False, order=cart(), customer_id="c-1", order_id="o-1",
        metadata={"note": "n"},
    )  # fmt: skip
    same = {name: getattr(read_back, name) for name in ("id", "coupon_id", "code", "redeemed_at")}
    assert answer == render(replace(general, **same))
    assert read_back.code == "Cart-1"
    assert read_back.remaining_count == general.remaining_count == 4
    assert read_back.discount_amount == price_order(SHOES, cart()).discount_amount


def test_redeem_coupon_takes_the_one_statement_for_a_cart() -> None:
    create_coupon(code="CART-3", init_count=5, discount=SHOES)

    with CaptureQueriesContext(connection) as queries:
        done = redeem_coupon(code="cart-3", order=cart(shipping=None))

    assert len(queries) == 2
    assert REDEMPTION(done) == REDEMPTION(get_redemption(done.id))


@pytest.mark.parametrize(
    "changed",
    [
        {"discount_percent_off": Decimal(40)},
        {"discount_rules": {"applies_to": {"categories": ["hats"]}}},
        {"discount_max_amount_off": 100},
    ],
)
def test_a_discount_changed_after_the_read_is_not_spent_at_the_old_price(
    changed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    coupon = create_coupon(code="MOVING", init_count=5, discount=SHOES)
    read = raw.one_coupon

    def read_then_changed(**key: Any) -> Coupon | None:
        # Another request changes the discount between this read and the statement.
        found = read(**key)
        Coupon.objects.filter(pk=coupon.id).update(**changed)
        return found

    monkeypatch.setattr(raw, "one_coupon", read_then_changed)
    kept_by = keep("k-moving")

    assert redeem_at_once(code="moving", render=render, keep=kept_by, order=cart()) is None
    assert not Redemption.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    assert Coupon.objects.get().remaining_count == 5

    monkeypatch.setattr(raw, "one_coupon", read)
    done = redeem_coupon(code="moving", order=cart())  # the general path decides
    changed_discount = Coupon.objects.get().discount
    assert changed_discount is not None
    now_priced = price_order(changed_discount, cart()).discount_amount
    assert now_priced != price_order(SHOES, cart()).discount_amount
    assert done.discount_amount == now_priced
    assert Coupon.objects.get().remaining_count == 4


@pytest.mark.parametrize(
    "fields",
    [
        {"init_count": 1},  # the last use: coupon.exhausted, on the general path
        {"init_count": 5, "per_customer_limit": 1},
        {"init_count": 5, "is_active": False},
        {"init_count": 5, "discount": replace(SHOES, currency="USD")},
    ],
)
def test_a_cart_the_statement_does_not_take_is_left_to_the_general_path(
    fields: dict[str, Any],
) -> None:
    create_coupon(code="ELSEWHERE", **{"discount": SHOES, **fields})

    assert redeem_at_once(code="elsewhere", render=render, order=cart(), customer_id="c") is None
    assert not Redemption.objects.exists()
    assert not Event.objects.filter(type="redemption.created").exists()
    assert Coupon.objects.get().remaining_count == fields["init_count"]


def test_a_cart_s_last_use_is_recorded_with_the_coupon_s_exhaustion() -> None:
    create_coupon(code="LAST-CART", init_count=1, discount=SHOES)

    done = redeem_coupon(code="last-cart", order=cart())

    assert done.remaining_count == 0
    assert Event.objects.filter(type="coupon.exhausted").count() == 1


_carts = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(
        st.builds(
            Line,
            id=st.just(""),
            quantity=st.integers(1, 5),
            unit_amount=st.integers(0, 100_000),
            categories=st.sampled_from([("shoes",), ("hats",), ("shoes", "hats")]),
            discountable=st.booleans(),
        ),
        min_size=1,
        max_size=12,
    ),
    shipping=st.none() | st.integers(0, 5_000),
    percent=st.integers(1, 100),
    cap=st.none() | st.integers(1, 50_000),
)
def test_a_cart_redeemed_at_once_records_allocations_adding_up_to_its_discount(
    lines: list[Line], shipping: int | None, percent: int, cap: int | None
) -> None:
    order = cart(tuple(replace(line, id=f"l{i}") for i, line in enumerate(lines)), shipping)
    discount = Discount(
        percent_off=Decimal(percent), currency="EUR", max_amount_off=cap,
        applies_to=ON_SHOES,
    )  # fmt: skip
    code = f"SUM-{next(_carts)}"
    create_coupon(code=code, init_count=2, discount=discount)
    if order_refusal_of(discount, order) is not None:
        return  # refused: the general path says why

    done = redeem_at_once(code=code, render=render, order=order)

    assert done is not None
    recorded = Redemption.objects.get(coupon__code=code)
    priced = price_order(discount, order)
    assert recorded.discount_amount == priced.discount_amount
    assert recorded.allocations == allocations_json(priced.allocations)
    assert recorded.shipping_discount_amount == 0
    assert sum(a["amount"] for a in recorded.allocations or ()) == recorded.discount_amount
    assert json.loads(done.body) == REDEMPTION(get_redemption(recorded.id))
