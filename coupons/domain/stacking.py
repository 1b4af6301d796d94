"""Several codes on one order: which discounts combine, the one order they apply in, and
the cart priced by each on what the ones before it left (coupons.domain.carts alone prices
one discount on the order as sent).

Order of application: `product` discounts, then `order`, then `shipping`, each class in
the order the codes were sent; codes without a discount take nothing and come last.
Minimums (`min_order_amount`, `min_quantity`) are judged on the order as sent, by
coupons.domain.carts.order_refusal_of, never here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from coupons.domain.allocation import LineAllocation, split_over_units
from coupons.domain.carts import (
    Priced,
    allocated,
    capped,
    got_units,
    is_eligible,
    lines_of,
    percent_of,
)
from coupons.domain.discounts import DISCOUNT_CLASSES, Discount, discount_for
from coupons.domain.orders import Line, Order

NOT_COMBINABLE = "not_combinable"


def _rank(discount: Discount | None) -> int:
    return (
        len(DISCOUNT_CLASSES)
        if discount is None
        else DISCOUNT_CLASSES.index(discount.discount_class)
    )


def application_order(discounts: Sequence[Discount | None]) -> list[int]:
    """The indexes of `discounts` (as sent) in the order they apply: by class (product,
    order, shipping, then none), within a class as sent."""
    return sorted(range(len(discounts)), key=lambda i: (_rank(discounts[i]), i))


def not_combinable(
    discounts: Sequence[Discount | None], campaigns: Sequence[object | None]
) -> int | None:
    """The index (as sent) of the first code, in application order, that does not combine
    with one applied before it; None when they all combine. Two codes combine when each
    one's `combines_with` allows the other's class; two codes of one campaign (equal,
    non-None `campaigns` entries) never do; a code without a discount combines with any."""
    applied: list[int] = []
    for index in application_order(discounts):
        for earlier in applied:
            if campaigns[index] is not None and campaigns[index] == campaigns[earlier]:
                return index
            mine, theirs = discounts[index], discounts[earlier]
            if mine is not None and theirs is not None and not mine.combines(theirs):
                return index
        applied.append(index)
    return None


@dataclass(frozen=True, slots=True)
class Stacked:
    """A cart priced by several discounts: each one's part (`parts`, in application order,
    `order` saying which discount as sent each is; None for a code without a discount)
    and the whole (`total`), whose allocations are the per-line sums of the parts'."""

    order: tuple[int, ...]
    parts: tuple[Priced | None, ...]
    total: Priced


def price_stacked(order: Order, discounts: Sequence[Discount | None]) -> Stacked:
    """`order` priced by `discounts` (as sent; each one qualifies on the order as sent, and
    they combine): each in application order, on the line amounts (and the shipping) the
    ones before it left. A percent is of what remains, `across` and the largest remainder
    work over what remains, and for `each` and buy X get Y a unit's price is its share of
    its line's remaining amount, split as `units` are. A line is never taken below 0."""
    lines = lines_of(order)
    left = [line.total for line in lines]
    shipping_left = order.shipping_amount or 0
    sequence = application_order(discounts)
    parts: list[Priced | None] = []
    for index in sequence:
        discount = discounts[index]
        if discount is None:
            parts.append(None)
            continue
        if discount.target == "shipping":
            off = discount_for(discount, order_amount=shipping_left)
            shipping_left -= off
            priced = Priced(off, off, allocated(order, lines, 0, [0] * len(lines)))
        else:
            priced = _price_on_remaining(discount, order, lines, left)
            if priced.allocations is not None:
                left = [have - a.amount for have, a in zip(left, priced.allocations, strict=True)]
            else:
                left = [left[0] - priced.discount_amount]
        parts.append(priced)
    return Stacked(tuple(sequence), tuple(parts), _total(order, lines, parts))


def _price_on_remaining(
    discount: Discount, order: Order, lines: Sequence[Line], left: Sequence[int]
) -> Priced:
    eligible = [is_eligible(discount, line) for line in lines]
    remaining = [have if seen else 0 for have, seen in zip(left, eligible, strict=True)]
    subtotal = sum(remaining)
    if discount.buy_x_get_y is not None or discount.allocation == "each":
        weights = _unit_weights(discount, lines, left, eligible)
        off = capped(sum(weights), discount, subtotal)
    else:
        weights = remaining
        off = discount_for(discount, order_amount=subtotal)
    return Priced(discount_amount=off, allocations=allocated(order, lines, off, weights))


def _unit_weights(
    discount: Discount, lines: Sequence[Line], left: Sequence[int], eligible: Sequence[bool]
) -> list[int]:
    """Each line's uncapped amount for `each` or buy X get Y, its units priced at their
    shares of what remains of the line (the larger shares first, as `units` are split)."""
    # A line as up to two runs of equally priced units, kept in the line's order, so that
    # buy X get Y's tie-break (the earlier line) still holds.
    runs: list[tuple[int, Line]] = []
    for i, (line, have) in enumerate(zip(lines, left, strict=True)):
        groups = split_over_units(have, line.quantity) or ()
        if not groups:
            runs.append((i, replace(line, unit_amount=0)))
        for group in groups:
            runs.append((i, replace(line, quantity=group.quantity, unit_amount=group.amount_each)))
    weights = [0] * len(lines)
    if discount.buy_x_get_y is not None:
        rule = discount.buy_x_get_y
        got = got_units(rule, [run for _, run in runs], [eligible[i] for i, _ in runs])
        for (i, run), n in zip(runs, got.per_line, strict=True):
            weights[i] += n * percent_of(run.unit_amount, rule.get_percent_off)
        return weights
    assert discount.amount_off is not None  # each is amount_off's, by construction
    for i, run in runs:
        if eligible[i]:
            weights[i] += run.quantity * min(discount.amount_off, run.unit_amount)
    return weights


def _total(order: Order, lines: Sequence[Line], parts: Sequence[Priced | None]) -> Priced:
    priced = [part for part in parts if part is not None]
    amount = sum(part.discount_amount for part in priced)
    shipping = sum(part.shipping_discount_amount for part in priced)
    if order.lines is None:
        return Priced(amount, shipping, None)
    per_line = [0] * len(lines)
    for part in priced:
        assert part.allocations is not None
        for i, allocation in enumerate(part.allocations):
            per_line[i] += allocation.amount
    return Priced(
        amount,
        shipping,
        tuple(
            LineAllocation(line.id, share, split_over_units(share, line.quantity))
            for line, share in zip(lines, per_line, strict=True)
        ),
    )
