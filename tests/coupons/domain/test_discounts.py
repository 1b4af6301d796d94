"""What a discount is worth on an order: worked examples, the contract's rules, and the
arithmetic's laws over random values (no database)."""

import json
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.money import MAX_AMOUNT, percent_json
from coupons.domain.discounts import (
    CURRENCY_MISMATCH,
    MIN_ORDER_AMOUNT_NOT_MET,
    Discount,
    InvalidDiscount,
    discount_columns,
    discount_for,
    discount_from_columns,
    discount_from_json,
    discount_json,
    discount_problems,
    order_refusal,
)

D = Decimal
PERCENTS = st.integers(1, 10_000).map(lambda hundredths: D(hundredths).scaleb(-2))
AMOUNTS = st.integers(0, MAX_AMOUNT)
CAPS = st.none() | AMOUNTS


def percent(value, *, cap=None, currency=None, minimum=None):
    return Discount(
        percent_off=D(value), currency=currency, max_amount_off=cap, min_order_amount=minimum
    )


def amount(value, currency="EUR", *, minimum=None):
    return Discount(amount_off=value, currency=currency, min_order_amount=minimum)


@pytest.mark.parametrize(
    ("discount", "order_amount", "expected"),
    [
        # The contract's worked example: 124.875 rounds half up to 125 (cents).
        (percent("12.5", currency="EUR"), 999, 125),
        # JPY has no minor unit: the yen is the unit, the arithmetic is the same.
        (percent("12.5", currency="JPY"), 999, 125),
        # KWD has three decimals: 1.999 KWD is 1999 fils; 249.875 fils -> 250.
        (percent("12.5", currency="KWD"), 1999, 250),
        (percent("12.5", currency="BHD"), 1, 0),  # 0.125 fils
        # Exact halves go up (half-even would give 0, 2 and 2).
        (percent("50"), 1, 1),
        (percent("50"), 3, 2),
        (percent("50"), 5, 3),
        (percent("0.01"), 5000, 1),  # 0.5
        (percent("0.01"), 4999, 0),  # 0.4999
        # A float would say 161 (1000 * 0.1615 is 161.49999999999997 in binary).
        (percent("16.15"), 1000, 162),
        (percent("33.33"), 1000, 333),
        (percent("100"), 999, 999),
        (percent("20"), 0, 0),
        (percent("99.99"), MAX_AMOUNT, 99_990_000_000),
        (percent("99.99"), MAX_AMOUNT - 1, 99_989_999_999),  # ...999.0001
        # max_amount_off caps a percent discount, above or below the computed one.
        (percent("20", cap=5000, currency="EUR"), 100_000, 5000),
        (percent("20", cap=5000, currency="EUR"), 10_000, 2000),
        (percent("20", cap=0, currency="EUR"), 10_000, 0),
        # An amount discount is never more than the order.
        (amount(500), 1000, 500),
        (amount(500), 500, 500),
        (amount(500), 300, 300),
        (amount(500), 0, 0),
        (amount(MAX_AMOUNT), MAX_AMOUNT, MAX_AMOUNT),
    ],
)
def test_worked_examples(discount, order_amount, expected):
    assert discount_for(discount, order_amount=order_amount) == expected


@pytest.mark.parametrize("order_amount", [-1, MAX_AMOUNT + 1, True, 999.0, "999", None])
def test_an_order_amount_outside_the_contract_is_an_error_not_a_discount(order_amount):
    with pytest.raises(ValueError, match="not an order amount"):
        discount_for(percent("10"), order_amount=order_amount)


@given(percent_off=PERCENTS, cap=CAPS, order_amount=AMOUNTS)
def test_a_percent_discount_is_the_order_times_the_rate_rounded_half_up_then_capped(
    percent_off, cap, order_amount
):
    discount = Discount(percent_off=percent_off, max_amount_off=cap, currency="EUR")
    result = discount_for(discount, order_amount=order_amount)
    exact = Fraction(order_amount) * Fraction(percent_off) / 100

    assert 0 <= result <= order_amount
    if cap is not None:
        assert result <= cap
    if cap is None or result < cap:  # not capped
        assert abs(exact - result) <= Fraction(1, 2)
        if exact - math.floor(exact) == Fraction(1, 2):
            assert result == math.ceil(exact)
        assert result == math.floor(exact + Fraction(1, 2))
    else:
        assert result == cap <= math.floor(exact + Fraction(1, 2))


@st.composite
def exact_halves(draw):
    """A percentage and an order whose exact discount ends in .5: A x k = 10000 n + 5000
    for k hundredths of a percent, solved for A (random values hit a half too rarely)."""
    while True:
        hundredths = draw(st.integers(1, 10_000))
        g = math.gcd(hundredths, 10_000)
        if 5000 % g == 0:
            break
    modulus = 10_000 // g
    first = (5000 // g) * pow(hundredths // g, -1, modulus) % modulus
    order_amount = first + modulus * draw(st.integers(0, (MAX_AMOUNT - first) // modulus))
    return D(hundredths).scaleb(-2), order_amount


@given(exact_halves())
def test_an_exact_half_always_goes_up(case):
    percent_off, order_amount = case
    exact = Fraction(order_amount) * Fraction(percent_off) / 100
    assert exact.denominator == 2

    assert discount_for(Discount(percent_off=percent_off), order_amount=order_amount) == (
        exact + Fraction(1, 2)
    )


@given(amount_off=AMOUNTS, order_amount=AMOUNTS)
def test_an_amount_discount_is_the_amount_but_never_more_than_the_order(amount_off, order_amount):
    result = discount_for(amount(amount_off), order_amount=order_amount)

    assert 0 <= result <= order_amount
    assert result <= amount_off
    assert result == min(amount_off, order_amount)


@given(percent_off=PERCENTS, order_amount=st.integers(0, MAX_AMOUNT - 1))
def test_a_larger_order_never_gets_a_smaller_discount(percent_off, order_amount):
    discount = Discount(percent_off=percent_off)
    assert discount_for(discount, order_amount=order_amount) <= discount_for(
        discount, order_amount=order_amount + 1
    )


# The contract's rules


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({}, {"percent_off", "amount_off"}),
        ({"percent_off": D(10), "amount_off": 1, "currency": "EUR"}, {"percent_off", "amount_off"}),
        ({"amount_off": 100}, {"currency"}),
        ({"percent_off": D(10), "max_amount_off": 100}, {"currency"}),
        ({"percent_off": D(10), "min_order_amount": 100}, {"currency"}),
        ({"amount_off": 100, "currency": "EUR", "max_amount_off": 50}, {"max_amount_off"}),
        ({"percent_off": 12.5}, {"percent_off"}),
        ({"percent_off": "12.5"}, {"percent_off"}),
        ({"percent_off": True}, {"percent_off"}),
        ({"percent_off": D("12.345")}, {"percent_off"}),
        ({"percent_off": D(0)}, {"percent_off"}),
        ({"percent_off": D("100.01")}, {"percent_off"}),
        ({"amount_off": -1, "currency": "EUR"}, {"amount_off"}),
        ({"amount_off": MAX_AMOUNT + 1, "currency": "EUR"}, {"amount_off"}),
        ({"amount_off": 100, "currency": "eur"}, {"currency"}),
        ({"amount_off": 100, "currency": "ZZZ"}, {"currency"}),
        ({"percent_off": D(5), "currency": "EUR", "min_order_amount": 1.0}, {"min_order_amount"}),
        ({"percent_off": D(5), "currency": "EUR", "max_amount_off": -5}, {"max_amount_off"}),
    ],
)  # fmt: skip
def test_discounts_that_break_a_rule_are_refused_naming_the_field(fields, errors):
    assert set(discount_problems(**fields)) == errors
    with pytest.raises(InvalidDiscount) as caught:
        Discount(**fields)
    assert set(caught.value.errors) == errors


@pytest.mark.parametrize(
    "fields",
    [
        {"percent_off": D("12.5")},  # any currency
        {"percent_off": 20, "currency": "EUR"},
        {"percent_off": D(100), "currency": "EUR", "max_amount_off": 5000},
        {"percent_off": D("0.01"), "currency": "JPY", "min_order_amount": 0},
        {"amount_off": 0, "currency": "KWD"},
        {"amount_off": 500, "currency": "EUR", "min_order_amount": 2000},
    ],
)
def test_discounts_within_the_rules_are_valid(fields):
    assert discount_problems(**fields) == {}
    Discount(**fields)


def test_a_percentage_is_kept_with_two_decimals_so_it_compares_equal_to_the_stored_one():
    assert Discount(percent_off=D("12.5")) == Discount(percent_off=D("12.50"))
    assert Discount(percent_off=20).percent_off == D("20.00")
    assert str(Discount(percent_off=D("1E+1")).percent_off) == "10.00"


# Orders a discount does not apply to


def test_an_order_in_another_currency_is_a_currency_mismatch():
    refusal = order_refusal(amount(500), order_amount=10_000, currency="USD")
    assert refusal == (CURRENCY_MISMATCH, {"currency": "EUR"})


def test_the_currency_is_checked_before_the_minimum():
    discount = amount(500, minimum=2000)
    assert order_refusal(discount, order_amount=1, currency="USD").code == CURRENCY_MISMATCH


def test_an_order_under_the_minimum_says_by_how_much():
    discount = percent("12.5", currency="EUR", minimum=2000)
    code, details = order_refusal(discount, order_amount=1850, currency="EUR")

    assert code == MIN_ORDER_AMOUNT_NOT_MET
    assert details == {"min_order_amount": 2000, "shortfall": 150, "currency": "EUR"}


def test_an_order_of_exactly_the_minimum_qualifies():
    discount = amount(500, minimum=2000)
    assert order_refusal(discount, order_amount=2000, currency="EUR") is None


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD"])
def test_a_percent_discount_without_a_currency_applies_in_any_currency(currency):
    assert order_refusal(percent("10"), order_amount=0, currency=currency) is None


# JSON


def test_a_discount_as_json_has_the_contracts_five_keys_and_combines_with_whole():
    discount = percent("12.5", cap=5000, currency="EUR", minimum=2000)
    assert json.dumps(discount_json(discount)) == (
        '{"percent_off": 12.5, "amount_off": null, "currency": "EUR", '
        '"max_amount_off": 5000, "min_order_amount": 2000, '
        '"combines_with": {"order": false, "product": false, "shipping": false}}'
    )
    assert discount_json(amount(500)) == {
        "percent_off": None, "amount_off": 500, "currency": "EUR",
        "max_amount_off": None, "min_order_amount": None,
        "combines_with": {"order": False, "product": False, "shipping": False},
    }  # fmt: skip


def test_an_integral_percentage_is_a_json_integer():
    value = discount_json(percent("20.00"))["percent_off"]
    assert value == 20 and type(value) is int
    assert json.dumps(value) == "20"


def test_every_two_decimal_percentage_survives_json_as_a_float():
    """Returned as a JSON number, read back exactly: for all 10,000 values in (0, 100]."""
    for hundredths in range(1, 10_001):
        exact = D(hundredths).scaleb(-2)
        value = percent_json(exact)
        text = json.dumps(value)
        assert D(repr(value)) == exact, exact
        assert json.loads(text, parse_float=D) == exact, exact
        assert isinstance(value, int) == (hundredths % 100 == 0)


@given(
    discount=st.one_of(
        st.builds(
            Discount,
            percent_off=PERCENTS,
            currency=st.sampled_from(["EUR", "JPY", "KWD"]),
            max_amount_off=CAPS,
            min_order_amount=CAPS,
        ),
        st.builds(
            Discount,
            amount_off=AMOUNTS,
            currency=st.sampled_from(["EUR", "JPY", "KWD"]),
            min_order_amount=CAPS,
        ),
        st.builds(Discount, percent_off=PERCENTS),
    )
)
def test_a_discount_read_back_from_its_json_is_the_same_discount(discount):
    assert discount_from_json(discount_json(discount)) == discount
    parsed = json.loads(json.dumps(discount_json(discount)), parse_float=D)
    assert discount_from_json(parsed) == discount


def test_json_with_keys_of_its_own_is_refused():
    with pytest.raises(InvalidDiscount) as caught:
        discount_from_json({"percent_off": 10, "percent": 10})
    assert caught.value.errors == {"percent": ["Unknown field."]}


def test_a_discount_maps_to_the_coupons_columns_and_back():
    discount = percent("12.5", cap=5000, currency="EUR", minimum=2000)
    columns = discount_columns(discount)

    assert columns == {
        "discount_percent_off": D("12.50"), "discount_amount_off": None,
        "discount_currency": "EUR", "discount_max_amount_off": 5000,
        "discount_min_order_amount": 2000, "discount_rules": None,
    }  # fmt: skip
    assert discount_from_columns(columns) == discount
    assert set(discount_columns(None).values()) == {None}
    assert discount_from_columns(discount_columns(None)) is None
