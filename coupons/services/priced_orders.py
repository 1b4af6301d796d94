"""An order as the services take it (the API's `order`, or the domain's Order) and as a
redemption or a hold records and shows it: its lines, its shipping, and where the
discount went (coupons.domain.carts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coupons.domain.allocation import allocations_json
from coupons.domain.carts import Priced
from coupons.domain.orders import Line, Order, line_from_json, line_json


def order_of(order: Order | Mapping[str, Any] | None) -> Order | None:
    """An order as the API's input gives it (`amount`, `currency`, and optionally
    `lines`, already parsed, and `shipping_amount`), or as the domain's."""
    if order is None or isinstance(order, Order):
        return order
    lines = order.get("lines")
    if lines is not None:
        lines = tuple(ln if isinstance(ln, Line) else line_from_json(ln) for ln in lines)
    return Order(
        amount=order["amount"],
        currency=order["currency"],
        lines=lines,
        shipping_amount=order.get("shipping_amount"),
    )


def priced_columns(order: Order | None, priced: Priced | None) -> dict[str, Any]:
    """The columns a redemption or a hold records beside order_amount, currency and
    discount_amount: the lines as priced (every field, defaults included), the shipping,
    the allocations and the shipping's part of the discount."""
    return {
        "order_lines": None
        if order is None or order.lines is None
        else [line_json(line) for line in order.lines],
        "shipping_amount": None if order is None else order.shipping_amount,
        "allocations": None if priced is None else allocations_json(priced.allocations),
        "shipping_discount_amount": None if priced is None else priced.shipping_discount_amount,
    }


def use_columns(order: Order | None, priced: Priced | None) -> dict[str, Any]:
    """All a redemption or a hold records of its order and of the discount it took (None
    without one): `order_amount`, `currency`, `discount_amount` and `priced_columns`."""
    return {
        "order_amount": order and order.amount,
        "currency": order and order.currency,
        "discount_amount": None if priced is None else priced.discount_amount,
        **priced_columns(order, priced),
    }


def order_shown(
    *,
    order_amount: int | None,
    currency: str | None,
    order_lines: list[dict[str, Any]] | None,
    shipping_amount: int | None,
) -> dict[str, Any] | None:
    """The contract's `order` of a redemption or a hold: null when none was sent."""
    if order_amount is None:
        return None
    return {
        "currency": currency,
        "amount": order_amount,
        "lines": order_lines,
        "shipping_amount": shipping_amount,
    }


def shipping_part(shipping_discount_amount: int | None, discount_amount: int | None) -> int | None:
    """The shipping's part of a recorded discount: 0 for a row written without it (an
    order priced as one amount), None without a discount."""
    if discount_amount is None:
        return None
    return shipping_discount_amount or 0
