"""Several discounts on one cart: the contract's worked example, which codes combine, the
order of application, and the laws of the stacked pricing over random carts."""

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from coupons.domain.carts import price_order
from coupons.domain.discounts import Discount, discount_from_json, discount_json
from coupons.domain.orders import Line
from coupons.domain.stacking import application_order, not_combinable, price_stacked
from tests.coupons.domain.test_carts import DISCOUNTS, LINES, amounts, cart, line

D = Decimal
EVERYTHING = {"product": True, "order": True, "shipping": True}
# Discount takes the API's plain values too (its __post_init__ reads them as the API would).
_discount: Any = Discount
SHOES20 = _discount(percent_off=20, applies_to={"categories": ["shoes"]},
                    combines_with={"order": True})  # fmt: skip
ALL10 = _discount(percent_off=10, combines_with={"product": True})
FREE_SHIPPING = _discount(percent_off=100, target="shipping", combines_with=EVERYTHING)


def shoes_and_hats(shipping=None):
    return cart(line("shoes", 1, 6000, categories=("shoes",)),
                line("hats", 1, 4000, categories=("hats",)), shipping=shipping)  # fmt: skip


def test_the_contracts_worked_example_takes_2080():
    stacked = price_stacked(shoes_and_hats(), [SHOES20, ALL10])
    shoes, all10 = stacked.parts
    assert (shoes.discount_amount, amounts(shoes)) == (1200, [1200, 0])
    assert (all10.discount_amount, amounts(all10)) == (880, [480, 400])
    assert (stacked.total.discount_amount, amounts(stacked.total)) == (2080, [1680, 400])


def test_sent_in_the_other_order_the_product_discount_still_applies_first():
    stacked = price_stacked(shoes_and_hats(), [ALL10, SHOES20])
    assert stacked.order == (1, 0)
    assert [p.discount_amount for p in stacked.parts] == [1200, 880]
    assert stacked.total == price_stacked(shoes_and_hats(), [SHOES20, ALL10]).total


def test_shipping_comes_last_and_takes_off_the_shipping_only():
    stacked = price_stacked(shoes_and_hats(shipping=495), [FREE_SHIPPING, ALL10, None])
    assert stacked.order == (1, 0, 2)
    assert stacked.parts[2] is None  # a code without a discount takes nothing
    assert (stacked.total.discount_amount, stacked.total.shipping_discount_amount) == (1495, 495)
    assert amounts(stacked.total) == [600, 400]


def test_classes_are_derived_from_the_discount():
    assert SHOES20.discount_class == "product"
    assert ALL10.discount_class == "order"
    assert FREE_SHIPPING.discount_class == "shipping"
    bxgy = discount_from_json({"buy_x_get_y": {"buy": {"quantity": 1}, "get": {"quantity": 1}}})
    assert bxgy.discount_class == "product"
    assert application_order([FREE_SHIPPING, ALL10, bxgy, SHOES20]) == [2, 3, 1, 0]


def test_combines_with_is_returned_whole_and_defaults_to_nothing():
    assert discount_json(Discount(percent_off=5))["combines_with"] == {
        "order": False, "product": False, "shipping": False
    }  # fmt: skip
    assert Discount(percent_off=5, combines_with={"order": False}) == Discount(percent_off=5)
    assert discount_from_json(discount_json(SHOES20)) == SHOES20


def test_codes_combine_only_when_each_allows_the_others_class():
    assert not_combinable([SHOES20, ALL10], [None, None]) is None
    plain = Discount(percent_off=5)
    # The first to break the rule, in application order: the order discount after shoes.
    assert not_combinable([plain, SHOES20], [None, None]) == 0
    assert not_combinable([ALL10, FREE_SHIPPING], [None, None]) == 1  # one-sided: no
    assert not_combinable([None, plain], [None, None]) is None  # no discount: any
    assert not_combinable([None, None], ["c1", "c1"]) == 1  # one campaign: never
    assert not_combinable([SHOES20, ALL10], ["c1", "c1"]) == 1


def test_an_each_discount_prices_units_at_their_share_of_what_remains():
    each = Discount(amount_off=300, currency="EUR", allocation="each", combines_with=EVERYTHING)
    half = Discount(percent_off=50, applies_to={"categories": ["x"]}, combines_with=EVERYTHING)
    order = cart(line("a", 3, 500, categories=("x",)))  # 1500; half leaves 750: 250 each
    stacked = price_stacked(order, [each, half])
    assert [p.discount_amount for p in stacked.parts] == [750, 750]
    assert amounts(stacked.total) == [1500]


# Laws over random carts.


def combinable(discounts):
    return [Discount(**{**vars_of(d), "combines_with": EVERYTHING}) for d in discounts]


def vars_of(discount):
    return {name: getattr(discount, name) for name in Discount.__slots__}


@given(st.lists(DISCOUNTS, min_size=1, max_size=5), LINES, st.none() | st.integers(0, 10**5))
@settings(max_examples=300)
def test_stacked_allocations_add_up_and_no_line_goes_below_zero(discounts, lines, shipping):
    order = cart(*lines, shipping=shipping)
    stacked = price_stacked(order, combinable(discounts))
    total = stacked.total
    parts = [p for p in stacked.parts if p is not None]
    assert total.discount_amount == sum(p.discount_amount for p in parts)
    for i, allocation in enumerate(total.allocations):
        assert allocation.amount == sum(p.allocations[i].amount for p in parts)
        assert 0 <= allocation.amount <= lines[i].total
        assert all(u.amount_each <= lines[i].unit_amount for u in allocation.units)
    assert sum(amounts(total)) == total.discount_amount - total.shipping_discount_amount
    assert total.lines_amount <= order.amount
    assert total.shipping_discount_amount <= (shipping or 0)


@given(st.lists(DISCOUNTS, min_size=1, max_size=5), LINES, st.randoms(use_true_random=False))
@settings(max_examples=200)
def test_the_order_codes_are_sent_in_changes_nothing_across_classes(discounts, lines, random):
    # One discount per class: within a class the order sent is the order applied.
    by_class = {d.discount_class: d for d in combinable(discounts)}
    chosen = list(by_class.values())
    shuffled = random.sample(chosen, len(chosen))
    order = cart(*lines, shipping=700)
    assert price_stacked(order, chosen).total == price_stacked(order, shuffled).total


@given(DISCOUNTS, LINES)
@settings(max_examples=200)
def test_one_discount_stacked_alone_is_priced_as_one_code(discount, lines):
    order = cart(*lines, shipping=300)
    stacked = price_stacked(order, [discount])
    assert stacked.parts[0] == price_order(discount, order)
    assert stacked.total.discount_amount == stacked.parts[0].discount_amount


def test_two_full_discounts_take_a_line_to_zero_and_no_further():
    order = cart(Line("a", 2, 0), line("b", 1, 10))
    stacked = price_stacked(order, combinable([Discount(percent_off=100)] * 2))
    assert amounts(stacked.total) == [0, 10]
