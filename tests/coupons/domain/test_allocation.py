"""Where every minor unit of a discount goes: the contract's worked examples, and the
laws of the largest-remainder split over random values (no database)."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coupons.domain.allocation import (
    LineAllocation,
    UnitGroup,
    allocate_discount,
    allocations_json,
    split_by_largest_remainder,
    split_over_units,
)


@pytest.mark.parametrize(
    ("total", "weights", "shares"),
    [
        (1000, [1999, 1999, 1999], [334, 333, 333]),  # the contract's example
        (0, [5, 7], [0, 0]),
        (10, [0, 10], [0, 10]),
        (2, [1, 1, 1], [1, 1, 0]),  # ties to the earlier line
        (1, [3, 5, 5], [0, 1, 0]),  # largest remainder first, then the earlier
        (7, [7], [7]),
    ],
)
def test_worked_splits(total, weights, shares):
    assert split_by_largest_remainder(total, weights) == shares


def test_a_thousand_over_three_units_is_334_then_two_of_333():
    assert split_over_units(1000, 3) == (UnitGroup(1, 334), UnitGroup(2, 333))
    allocated = allocate_discount(1000, line_ids=["l1"], quantities=[3], weights=[3000])
    units = [{"quantity": 1, "amount_each": 334}, {"quantity": 2, "amount_each": 333}]
    assert allocations_json(allocated) == [{"line_id": "l1", "amount": 1000, "units": units}]


def test_an_even_split_is_one_group_and_nothing_is_no_group():
    assert split_over_units(900, 3) == (UnitGroup(3, 300),)
    assert split_over_units(0, 3) == ()
    assert split_over_units(1, 3) == (UnitGroup(1, 1), UnitGroup(2, 0))


def test_nothing_cannot_be_weighed():
    with pytest.raises(ValueError):
        split_by_largest_remainder(1, [0, 0])


WEIGHTS = st.lists(st.integers(0, 10**11), min_size=1, max_size=30).filter(lambda w: sum(w) > 0)


@given(WEIGHTS, st.data())
def test_allocations_always_add_up_to_the_discount_and_stay_within_each_line(weights, data):
    total = data.draw(st.integers(0, sum(weights)))
    shares = split_by_largest_remainder(total, weights)
    assert sum(shares) == total
    assert all(0 <= share <= weight for share, weight in zip(shares, weights, strict=True))


@given(WEIGHTS, st.data())
def test_each_share_is_within_one_unit_of_its_exact_proportion(weights, data):
    total = data.draw(st.integers(0, sum(weights)))
    shares = split_by_largest_remainder(total, weights)
    whole = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        assert abs(share - Fraction(total * weight, whole)) < 1


@given(WEIGHTS, st.data())
def test_the_split_is_deterministic_and_favours_earlier_lines_on_ties(weights, data):
    total = data.draw(st.integers(0, sum(weights)))
    assert split_by_largest_remainder(total, weights) == split_by_largest_remainder(
        total, list(weights)
    )
    shares = split_by_largest_remainder(total, weights + weights[-1:])
    assert shares[-1] <= shares[-2]


@given(st.integers(1, 10**6), st.integers(1, 10**5), st.data())
def test_units_add_up_differ_by_exactly_one_and_never_pass_the_unit_price(quantity, price, data):
    amount = data.draw(st.integers(0, quantity * price))
    groups = split_over_units(amount, quantity)
    assert sum(g.quantity * g.amount_each for g in groups) == amount
    assert len(groups) <= 2
    if amount:
        assert sum(g.quantity for g in groups) == quantity
    if len(groups) == 2:
        assert groups[0].amount_each == groups[1].amount_each + 1
    assert all(g.amount_each <= price and g.quantity > 0 for g in groups)


@given(WEIGHTS, st.data())
def test_a_line_given_its_own_amounts_keeps_them(weights, data):
    allocated = allocate_discount(
        sum(weights), line_ids=[str(i) for i in range(len(weights))],
        quantities=[1] * len(weights), weights=weights,
    )  # fmt: skip
    assert [a.amount for a in allocated] == weights
    assert all(isinstance(a, LineAllocation) for a in allocated)
