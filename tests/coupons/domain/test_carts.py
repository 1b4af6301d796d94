"""A discount on an order with lines: the contract's worked examples, the refusals, and
the laws of the pricing over random carts (no database)."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain.money import MAX_AMOUNT
from coupons.domain.carts import (
    LINES_REQUIRED,
    MIN_QUANTITY_NOT_MET,
    NO_ELIGIBLE_LINES,
    got_units,
    is_eligible,
    lines_of,
    order_refusal_of,
    price_order,
)
from coupons.domain.discounts import (
    MIN_ORDER_AMOUNT_NOT_MET,
    Discount,
    InvalidDiscount,
    discount_for,
    discount_from_json,
    discount_json,
    discount_problems,
)
from coupons.domain.orders import Line, Order, lines_problems
from coupons.domain.targeting import BuyXGetY

D = Decimal
SHIRTS = {"categories": ["shirts"]}


def cart(*lines, currency="EUR", shipping=None):
    return Order(sum(line.total for line in lines), currency, tuple(lines), shipping)


def line(id_, quantity, unit_amount, **options):
    return Line(id=id_, quantity=quantity, unit_amount=unit_amount, **options)


def amounts(priced):
    return [a.amount for a in priced.allocations]


def buy_get(buy=2, get=1, *, percent=100, applies_to=SHIRTS, max_applications=None, **kw):
    return Discount(
        buy_x_get_y={
            "buy": {"quantity": buy, "applies_to": applies_to},
            "get": {"quantity": get, "applies_to": applies_to, "percent_off": percent},
            "max_applications": max_applications,
        },
        **kw,
    )


# The contract's worked examples.


def test_a_thousand_off_three_lines_of_1999_is_334_333_333():
    order = cart(line("a", 1, 1999), line("b", 1, 1999), line("c", 1, 1999))
    priced = price_order(Discount(amount_off=1000, currency="EUR"), order)
    assert priced.discount_amount == 1000 and amounts(priced) == [334, 333, 333]


def test_a_thousand_over_three_units_of_one_line():
    priced = price_order(Discount(amount_off=1000, currency="EUR"), cart(line("l1", 3, 1000)))
    units = [(u.quantity, u.amount_each) for u in priced.allocations[0].units]
    assert units == [(1, 334), (2, 333)]


def test_buy_two_get_one_free_over_six_shirts_takes_1500():
    order = cart(*(line(f"s{p}", 1, p, categories=("shirts",))
                   for p in (3000, 2500, 2000, 1500, 1000, 500)))  # fmt: skip
    priced = price_order(buy_get(), order)
    assert priced.discount_amount == 1500
    assert amounts(priced) == [0, 0, 0, 0, 1000, 500]
    got = got_units(buy_get().buy_x_get_y, order.lines, [True] * 6)
    assert got.applications == 2


def test_twenty_percent_off_shoes_except_one_product():
    discount = Discount(percent_off=20, applies_to={"categories": ["shoes"]},
                        excludes={"product_ids": ["shoe-9"]})  # fmt: skip
    order = cart(
        line("l1", 2, 4999, product_id="shoe-7", categories=("shoes",)),
        line("l2", 1, 8000, product_id="shoe-9", categories=("shoes",)),
        line("l3", 1, 2500, product_id="gift", categories=("shoes",), discountable=False),
        line("l4", 1, 1000, product_id="socks"),
    )
    priced = price_order(discount, order)
    assert priced.discount_amount == 2000  # 20 % of 9998 is 1999.6
    assert amounts(priced) == [2000, 0, 0, 0]
    assert [(u.quantity, u.amount_each) for u in priced.allocations[0].units] == [(2, 1000)]


def test_free_shipping_takes_the_shipping_and_nothing_off_the_lines():
    free = Discount(percent_off=100, target="shipping", currency="EUR", min_order_amount=5000)
    order = cart(line("l1", 1, 6000), shipping=495)
    priced = price_order(free, order)
    assert (priced.discount_amount, priced.shipping_discount_amount) == (495, 495)
    assert amounts(priced) == [0]
    assert order_refusal_of(free, cart(line("l1", 1, 4999), shipping=495)).code == (
        MIN_ORDER_AMOUNT_NOT_MET
    )
    assert price_order(free, cart(line("l1", 1, 6000))).discount_amount == 0
    assert price_order(free, Order(6000, "EUR", None, 495)).shipping_discount_amount == 495


def test_each_takes_amount_off_every_unit_at_most_its_price_and_the_cap():
    each = Discount(amount_off=300, currency="EUR", allocation="each")
    order = cart(line("a", 2, 1000), line("b", 3, 200))
    assert amounts(price_order(each, order)) == [600, 600]
    capped = Discount(amount_off=300, currency="EUR", allocation="each", max_amount_off=1000)
    assert amounts(price_order(capped, order)) == [500, 500]


@pytest.mark.parametrize(
    ("currency", "unit_amount", "percent", "expected"),
    [("JPY", 1999, 25, 500), ("BHD", 19990, 25, 4998), ("EUR", 1999, 25, 500)],
)
def test_zero_and_three_decimal_currencies_are_just_minor_units(
    currency, unit_amount, percent, expected
):
    order = cart(line("a", 1, unit_amount), currency=currency)
    priced = price_order(Discount(percent_off=percent), order)
    assert priced.discount_amount == expected == sum(amounts(priced))


# Refusals, in order.


def test_a_targeted_discount_needs_lines():
    shoes = Discount(percent_off=10, applies_to={"categories": ["shoes"]})
    assert order_refusal_of(shoes, Order(1000, "EUR")).code == LINES_REQUIRED
    assert order_refusal_of(buy_get(), Order(1000, "EUR")).code == LINES_REQUIRED


def test_no_eligible_line_and_too_few_units_are_refused_with_details():
    shoes = Discount(percent_off=10, applies_to={"categories": ["shoes"]}, min_quantity=3)
    assert order_refusal_of(shoes, cart(line("a", 1, 100))).code == NO_ELIGIBLE_LINES
    refusal = order_refusal_of(shoes, cart(line("a", 2, 100, categories=("shoes",))))
    assert refusal.code == MIN_QUANTITY_NOT_MET
    assert refusal.details == {"min_quantity": 3, "shortfall": 1}
    short = order_refusal_of(buy_get(), cart(line("a", 1, 100, categories=("shirts",))))
    assert (short.code, short.details) == (MIN_QUANTITY_NOT_MET,
                                           {"min_quantity": 3, "shortfall": 2})  # fmt: skip


def test_the_currency_is_refused_before_the_lines():
    shoes = Discount(amount_off=10, currency="EUR", applies_to={"categories": ["shoes"]})
    assert order_refusal_of(shoes, cart(line("a", 1, 100), currency="USD")).code == (
        "currency_mismatch"
    )


def test_min_order_amount_looks_at_the_eligible_subtotal():
    shoes = Discount(percent_off=10, currency="EUR", min_order_amount=5000,
                     applies_to={"categories": ["shoes"]})  # fmt: skip
    order = cart(line("a", 1, 4000, categories=("shoes",)), line("b", 1, 9000))
    refusal = order_refusal_of(shoes, order)
    assert refusal.code == MIN_ORDER_AMOUNT_NOT_MET and refusal.details["shortfall"] == 1000


# The discount's new fields: rules and round trips.


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"percent_off": 10, "amount_off": 5, "currency": "EUR"}, "amount_off"),
        ({"percent_off": 10, "buy_x_get_y": {"buy": {"quantity": 1}, "get": {"quantity": 1}}},
         "buy_x_get_y"),
        ({"percent_off": 10, "target": "shipping", "applies_to": SHIRTS}, "applies_to"),
        ({"percent_off": 10, "allocation": "each"}, "allocation"),
        ({"amount_off": 5, "currency": "EUR", "max_amount_off": 3}, "max_amount_off"),
        ({"percent_off": 10, "applies_to": {"categories": []}}, "applies_to"),
        ({"percent_off": 10, "applies_to": {"brands": ["x"]}}, "applies_to.brands"),
        ({"percent_off": 10, "min_quantity": 0}, "min_quantity"),
        ({"percent_off": 10, "target": "order"}, "target"),
        ({"buy_x_get_y": {"buy": {"quantity": 0}, "get": {"quantity": 1}}},
         "buy_x_get_y.buy.quantity"),
        ({"buy_x_get_y": {"buy": {"quantity": 1}, "get": {"quantity": 1, "percent_off": D("0.5")}}},
         "buy_x_get_y.get.percent_off"),
    ],
)  # fmt: skip
def test_discount_rules_name_the_field(fields, bad):
    assert bad in discount_problems(**fields)
    with pytest.raises(InvalidDiscount):
        Discount(**fields)


def test_targeting_fields_round_trip_and_defaults_compare_equal():
    discount = Discount(percent_off=D("12.5"), applies_to={"categories": ["shoes"]},
                        excludes={"product_ids": ["shoe-9"]}, min_quantity=2)  # fmt: skip
    assert discount_from_json(discount_json(discount)) == discount
    assert Discount(amount_off=5, currency="EUR", allocation="across", target="lines") == (
        Discount(amount_off=5, currency="EUR")
    )
    assert set(discount_json(Discount(percent_off=5))) == {
        "percent_off", "amount_off", "currency", "max_amount_off", "min_order_amount",
        "combines_with",
    }  # fmt: skip
    assert discount_from_json(discount_json(buy_get(percent=D("12.5")))) == buy_get(
        percent=D("12.5")
    )


def test_bad_lines_name_their_field():
    problems = lines_problems([{"id": "a", "quantity": 1, "unit_amount": 1},
                               {"id": "b", "quantity": 0, "unit_amount": 1},
                               {"id": "a", "quantity": 1, "unit_amount": 1}])  # fmt: skip
    assert problems == {
        "lines.1.quantity": ["Must be an integer from 1 to 1,000,000."],
        "lines.2.id": ["Must be unique within the order."],
    }
    assert "lines.0.unit_amount" in lines_problems(
        [{"id": "a", "quantity": 2, "unit_amount": MAX_AMOUNT}]
    )
    assert "lines" in lines_problems([])
    assert "lines.0.categories" in lines_problems(
        [{"id": "a", "quantity": 1, "unit_amount": 1, "categories": ["x"] * 21}]
    )
    assert "lines.0.quantity" in lines_problems([{"id": "a", "quantity": True, "unit_amount": 1}])


# Laws over random carts.

TAGS = st.sampled_from(["shoes", "shirts", "hats"])
LINES = st.lists(
    st.builds(
        Line,
        id=st.just(""),
        quantity=st.integers(1, 50),
        unit_amount=st.integers(0, 100_000),
        product_id=st.sampled_from(["p1", "p2", "p3", None]),
        categories=st.lists(TAGS, max_size=2).map(tuple),
        discountable=st.booleans(),
    ),
    min_size=1,
    max_size=12,
).map(lambda lines: tuple(
    Line(**{**{f: getattr(ln, f) for f in Line.__slots__}, "id": f"l{i}"})
    for i, ln in enumerate(lines)
))  # fmt: skip
SELECTORS = st.none() | st.builds(lambda c: {"categories": [c]}, TAGS)
EXCLUDES = st.none() | st.builds(lambda p: {"product_ids": [p]}, st.sampled_from(["p1", "p2"]))
PERCENTS = st.integers(1, 10_000).map(lambda h: D(h).scaleb(-2))
CAPS = st.none() | st.integers(0, 10**6)
DISCOUNTS = st.one_of(
    st.builds(lambda p, cap, a, e: Discount(percent_off=p, max_amount_off=cap, currency="EUR",
                                            applies_to=a, excludes=e),
              PERCENTS, CAPS, SELECTORS, EXCLUDES),
    st.builds(lambda off, a, e: Discount(amount_off=off, currency="EUR", applies_to=a, excludes=e),
              st.integers(0, 10**6), SELECTORS, EXCLUDES),
    st.builds(lambda off, cap, a: Discount(amount_off=off, currency="EUR", allocation="each",
                                           max_amount_off=cap, applies_to=a),
              st.integers(0, 10**5), CAPS, SELECTORS),
    st.builds(lambda b, g, p, n, a, cap: buy_get(b, g, percent=p, max_applications=n,
                                                 applies_to=a, max_amount_off=cap, currency="EUR"),
              st.integers(1, 4), st.integers(1, 3), PERCENTS.filter(lambda p: p >= 1),
              st.none() | st.integers(1, 5), SELECTORS, CAPS),
)  # fmt: skip


@given(DISCOUNTS, LINES)
@settings(max_examples=300)
def test_allocations_add_up_and_no_line_or_unit_gets_more_than_its_price(discount, lines):
    order = cart(*lines)
    if order_refusal_of(discount, order) is not None:
        return
    priced = price_order(discount, order)
    subtotal = sum(ln.total for ln in lines if is_eligible(discount, ln))
    assert 0 <= priced.discount_amount <= subtotal
    assert sum(amounts(priced)) == priced.discount_amount - priced.shipping_discount_amount
    for ln, allocation in zip(lines, priced.allocations, strict=True):
        assert allocation.line_id == ln.id
        assert 0 <= allocation.amount <= ln.total
        if not is_eligible(discount, ln):
            assert allocation.amount == 0
        assert all(u.amount_each <= ln.unit_amount for u in allocation.units)
        assert sum(u.quantity * u.amount_each for u in allocation.units) == allocation.amount
    assert price_order(discount, order) == priced  # deterministic


@given(DISCOUNTS.filter(lambda d: not d.needs_lines and d.allocation is None),
       st.integers(0, MAX_AMOUNT))  # fmt: skip
def test_an_order_without_lines_is_priced_as_discount_for_prices_it(discount, amount):
    order = Order(amount, "EUR")
    priced = price_order(discount, order)
    assert priced.discount_amount == discount_for(discount, order_amount=amount)
    assert priced.allocations is None and priced.shipping_discount_amount == 0
    assert lines_of(order)[0].total == amount


def _got_one_unit_at_a_time(rule: BuyXGetY, lines, eligible):
    """The contract's rule read literally: units one by one, as a reference."""
    units = [(ln.unit_amount, i) for i, ln in enumerate(lines) if eligible[i]
             for _ in range(ln.quantity)]  # fmt: skip
    from coupons.domain.targeting import matches

    got = [0] * len(lines)
    applications = 0
    while rule.max_applications is None or applications < rule.max_applications:
        gets = sorted(u for u in units if matches(rule.get_applies_to, lines[u[1]]))
        if len(gets) < rule.get_quantity:
            break
        taken = gets[: rule.get_quantity]
        rest = list(units)
        for u in taken:
            rest.remove(u)
        buys = sorted((u for u in rest if matches(rule.buy_applies_to, lines[u[1]])),
                      key=lambda u: (-u[0], u[1]))  # fmt: skip
        if len(buys) < rule.buy_quantity:
            break
        for u in buys[: rule.buy_quantity]:
            rest.remove(u)
        for _, i in taken:
            got[i] += 1
        units = rest
        applications += 1
    return tuple(got), applications


@given(st.integers(1, 4), st.integers(1, 3), st.none() | st.integers(1, 6), SELECTORS,
       SELECTORS, LINES)  # fmt: skip
@settings(max_examples=300)
def test_unit_selection_by_counts_is_the_rule_applied_one_unit_at_a_time(
    buy, get, max_applications, buy_to, get_to, lines
):
    rule = Discount(buy_x_get_y={
        "buy": {"quantity": buy, "applies_to": buy_to},
        "get": {"quantity": get, "applies_to": get_to},
        "max_applications": max_applications,
    }).buy_x_get_y  # fmt: skip
    eligible = [ln.discountable for ln in lines]
    fast = got_units(rule, lines, eligible)
    assert (fast.per_line, fast.applications) == _got_one_unit_at_a_time(rule, lines, eligible)
