"""A discount on an order with lines: which lines it applies to, whether the order
qualifies (and why not), the amount D and where each minor unit of it goes.

An order without lines is one eligible line of its amount, priced by discount_for exactly
as before lines existed; its allocations are None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core.domain.money import DECIMAL_CONTEXT
from coupons.domain.allocation import LineAllocation, allocate_discount
from coupons.domain.discounts import (
    MIN_ORDER_AMOUNT_NOT_MET,
    Discount,
    OrderRefusal,
    discount_for,
    order_refusal,
)
from coupons.domain.orders import Line, Order
from coupons.domain.targeting import BuyXGetY, matches

LINES_REQUIRED = "lines_required"
NO_ELIGIBLE_LINES = "no_eligible_lines"
MIN_QUANTITY_NOT_MET = "min_quantity_not_met"


@dataclass(frozen=True, slots=True)
class Priced:
    """What a discount takes off an order: `discount_amount` in all, of which
    `shipping_discount_amount` off the shipping; the rest allocated over the lines
    (`allocations`, one per line in order; None for an order without lines)."""

    discount_amount: int
    shipping_discount_amount: int = 0
    allocations: tuple[LineAllocation, ...] | None = None

    @property
    def lines_amount(self) -> int:
        return self.discount_amount - self.shipping_discount_amount


def lines_of(order: Order) -> tuple[Line, ...]:
    """The order's lines; an order without them is one line of its amount."""
    if order.lines is not None:
        return order.lines
    return (Line(id="", quantity=1, unit_amount=order.amount),)


def is_eligible(discount: Discount, line: Line) -> bool:
    """Discountable, matching `applies_to` (null: every line), not matching `excludes`."""
    return (
        line.discountable
        and matches(discount.applies_to, line)
        and (discount.excludes is None or not discount.excludes.matches(line))
    )


def _looked_at(discount: Discount, lines: Sequence[Line]) -> list[bool]:
    """The lines a discount's minimums look at: the eligible ones; for a shipping
    discount (which has no targeting), every line: its minimums look at the order."""
    if discount.target == "shipping":
        return [True] * len(lines)
    return [is_eligible(discount, line) for line in lines]


def order_refusal_of(discount: Discount, order: Order) -> OrderRefusal | None:
    """Why `order` cannot take `discount`, first refusal wins: `lines_required`,
    `currency_mismatch`, `no_eligible_lines`, `min_order_amount_not_met` (against the
    eligible subtotal S), `min_quantity_not_met` (the eligible quantity Q; for buy X get
    Y, fewer units than one application takes). None when it qualifies."""
    if discount.needs_lines and order.lines is None:
        return OrderRefusal(LINES_REQUIRED, {})
    lines = lines_of(order)
    looked_at = _looked_at(discount, lines)
    subtotal = sum(line.total for line, seen in zip(lines, looked_at, strict=True) if seen)
    refusal = order_refusal(discount, order_amount=subtotal, currency=order.currency)
    if refusal is not None and refusal.code != MIN_ORDER_AMOUNT_NOT_MET:
        return refusal  # currency_mismatch comes before the lines' own refusals
    if not any(looked_at):
        return OrderRefusal(NO_ELIGIBLE_LINES, {})
    if refusal is not None:
        return refusal
    quantity = sum(line.quantity for line, seen in zip(lines, looked_at, strict=True) if seen)
    if discount.min_quantity is not None and quantity < discount.min_quantity:
        return OrderRefusal(
            MIN_QUANTITY_NOT_MET,
            {"min_quantity": discount.min_quantity, "shortfall": discount.min_quantity - quantity},
        )
    if discount.buy_x_get_y is not None:
        rule = discount.buy_x_get_y
        got = got_units(rule, lines, looked_at)
        if got.applications == 0:
            return OrderRefusal(
                MIN_QUANTITY_NOT_MET,
                {"min_quantity": rule.buy_quantity + rule.get_quantity, "shortfall": got.shortfall},
            )
    return None


@dataclass(frozen=True, slots=True)
class GotUnits:
    per_line: tuple[int, ...]  # how many of each line's units were got
    applications: int
    shortfall: int  # with no application: the units the first one lacked


def got_units(rule: BuyXGetY, lines: Sequence[Line], eligible: Sequence[bool]) -> GotUnits:
    """Buy X get Y's unit selection. One application takes the `get_quantity` cheapest
    remaining units that match `get_applies_to`, then the `buy_quantity` most expensive
    remaining units that match `buy_applies_to`; it stops when either is short, or at
    `max_applications`. Ties between equally priced units go to the earlier line.

    Works on counts per line, never per unit (a line may hold a million units): while the
    current cheapest get-line and most expensive buy-line each hold a whole application's
    units, as many applications as they allow are taken at once; otherwise one, which
    empties at least one line. So the loop turns O(lines) times."""
    count = len(lines)
    left = [line.quantity if eligible[i] else 0 for i, line in enumerate(lines)]
    get_order = sorted(
        (i for i in range(count) if eligible[i] and matches(rule.get_applies_to, lines[i])),
        key=lambda i: (lines[i].unit_amount, i),
    )
    buy_order = sorted(
        (i for i in range(count) if eligible[i] and matches(rule.buy_applies_to, lines[i])),
        key=lambda i: (-lines[i].unit_amount, i),
    )
    got = [0] * count
    gets, buys = rule.get_quantity, rule.buy_quantity
    limit = rule.max_applications
    applications = 0
    g = b = 0  # the first lines of each order with units left
    while limit is None or applications < limit:
        while g < len(get_order) and left[get_order[g]] == 0:
            g += 1
        while b < len(buy_order) and left[buy_order[b]] == 0:
            b += 1
        room = None if limit is None else limit - applications
        if g < len(get_order) and b < len(buy_order):
            cheap, dear = get_order[g], buy_order[b]
            if cheap != dear:
                times = min(left[cheap] // gets, left[dear] // buys)
            else:
                times = left[cheap] // (gets + buys)
            times = times if room is None else min(times, room)
            if times:
                got[cheap] += times * gets
                left[cheap] -= times * gets
                left[dear] -= times * buys
                applications += times
                continue
        # One application, unit counts across lines.
        planned: dict[int, int] = {}
        need = gets
        for i in get_order[g:]:
            if not need:
                break
            take = min(need, left[i])
            if take:
                planned[i] = take
                need -= take
        short = need
        need = buys
        bought: dict[int, int] = {}
        for i in buy_order[b:]:
            if not need:
                break
            take = min(need, left[i] - planned.get(i, 0))
            if take > 0:
                bought[i] = take
                need -= take
        short += need
        if short:
            return GotUnits(tuple(got), applications, short if applications == 0 else 0)
        for i, take in planned.items():
            got[i] += take
            left[i] -= take
        for i, take in bought.items():
            left[i] -= take
        applications += 1
    return GotUnits(tuple(got), applications, 0)


def percent_of(amount: int, percent: Decimal) -> int:
    exact = DECIMAL_CONTEXT.divide(DECIMAL_CONTEXT.multiply(Decimal(amount), percent), 100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP, context=DECIMAL_CONTEXT))


def capped(amount: int, discount: Discount, subtotal: int) -> int:
    if discount.max_amount_off is not None:
        amount = min(amount, discount.max_amount_off)
    return min(amount, subtotal)


def price_order(discount: Discount, order: Order) -> Priced:
    """The amount D of `discount` on `order` (which qualifies: see order_refusal_of) and
    where it goes. Lines: percent, S x percent / 100 rounded half up, at most
    `max_amount_off`; `across`, `amount_off`; `each`, every eligible unit's
    min(amount_off, unit_amount), at most `max_amount_off`; buy X get Y, each got unit's
    price x `get.percent_off` / 100 rounded half up, at most `max_amount_off`; never more
    than S. Split over the eligible lines by largest remainder, in proportion to their
    totals (percent, across) or their own uncapped amounts (each, buy X get Y).
    Shipping: percent_off or amount_off off `shipping_amount`, at most max_amount_off."""
    lines = lines_of(order)
    if discount.target == "shipping":
        off = discount_for(discount, order_amount=order.shipping_amount or 0)
        return Priced(
            discount_amount=off,
            shipping_discount_amount=off,
            allocations=allocated(order, lines, 0, [0] * len(lines)),
        )
    eligible = [is_eligible(discount, line) for line in lines]
    totals = [line.total if seen else 0 for line, seen in zip(lines, eligible, strict=True)]
    subtotal = sum(totals)
    if discount.buy_x_get_y is not None:
        rule = discount.buy_x_get_y
        got = got_units(rule, lines, eligible)
        weights = [
            n * percent_of(line.unit_amount, rule.get_percent_off)
            for n, line in zip(got.per_line, lines, strict=True)
        ]
        off = capped(sum(weights), discount, subtotal)
    elif discount.allocation == "each":
        assert discount.amount_off is not None  # each is amount_off's, by construction
        unit_off = discount.amount_off
        weights = [
            line.quantity * min(unit_off, line.unit_amount) if seen else 0
            for line, seen in zip(lines, eligible, strict=True)
        ]
        off = capped(sum(weights), discount, subtotal)
    else:
        weights = totals
        off = discount_for(discount, order_amount=subtotal)
    return Priced(discount_amount=off, allocations=allocated(order, lines, off, weights))


def allocated(
    order: Order, lines: Sequence[Line], amount: int, weights: Sequence[int]
) -> tuple[LineAllocation, ...] | None:
    if order.lines is None:
        return None
    return allocate_discount(
        amount,
        line_ids=[line.id for line in lines],
        quantities=[line.quantity for line in lines],
        weights=weights,
    )
