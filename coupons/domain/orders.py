"""What a code is used on: an order's amount and currency, and (optionally) its lines and
shipping, with the contract's bounds checked on JSON values as parsed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from core.domain.money import AMOUNT_MESSAGE, MAX_AMOUNT, is_amount
from coupons.domain.limits import (
    MAX_LINE_TAGS,
    MAX_LINE_TEXT_LENGTH,
    MAX_LINES,
    MAX_QUANTITY,
)

LINE_FIELDS = (
    "id", "product_id", "variant_id", "categories", "collections", "quantity", "unit_amount",
    "discountable",
)  # fmt: skip
TEXT_MESSAGE = f"Must be 1 to {MAX_LINE_TEXT_LENGTH} printable ASCII characters."
QUANTITY_MESSAGE = f"Must be an integer from 1 to {MAX_QUANTITY:,}."
TAGS_MESSAGE = f"Must be a list of at most {MAX_LINE_TAGS} strings."
LINES_MESSAGE = f"Must be a list of 1 to {MAX_LINES} lines."
TOTAL_MESSAGE = f"quantity x unit_amount must be at most {MAX_AMOUNT:,}."
SUM_MESSAGE = f"The lines' totals must add up to at most {MAX_AMOUNT:,}."
AMOUNT_SUM_MESSAGE = "Must equal the sum of the lines' totals ({total}), or be left out."


def is_text(value: object) -> bool:
    """1-128 printable ASCII characters (space to tilde)."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= MAX_LINE_TEXT_LENGTH
        and all(" " <= c <= "~" for c in value)
    )


def is_quantity(value: object) -> bool:
    return type(value) is int and 1 <= value <= MAX_QUANTITY


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an order: `quantity` units at `unit_amount` minor units each."""

    id: str
    quantity: int
    unit_amount: int
    product_id: str | None = None
    variant_id: str | None = None
    categories: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    discountable: bool = True

    @property
    def total(self) -> int:
        return self.quantity * self.unit_amount


class Order(NamedTuple):
    """An amount in minor units of an ISO 4217 currency; with `lines`, the amount is their
    sum. `shipping_amount` is not part of `amount`."""

    amount: int
    currency: str
    lines: tuple[Line, ...] | None = None
    shipping_amount: int | None = None

    @property
    def is_plain(self) -> bool:
        """An amount and a currency only: priced exactly as before lines existed."""
        return self.lines is None and self.shipping_amount is None


def line_problems(line: object, *, prefix: str) -> dict[str, list[str]]:
    """The contract's rules for one line given as JSON, keyed `<prefix>.<field>`."""
    if not isinstance(line, Mapping):
        return {prefix: ["Must be an object."]}
    problems: dict[str, list[str]] = {}
    for name in sorted(set(line) - set(LINE_FIELDS)):
        problems[f"{prefix}.{name}"] = ["Unknown field."]
    for name in ("id", "quantity", "unit_amount"):
        if name not in line:
            problems[f"{prefix}.{name}"] = ["This field is required."]
    if "id" in line and not is_text(line["id"]):
        problems[f"{prefix}.id"] = [TEXT_MESSAGE]
    if "quantity" in line and not is_quantity(line["quantity"]):
        problems[f"{prefix}.quantity"] = [QUANTITY_MESSAGE]
    if "unit_amount" in line and not is_amount(line["unit_amount"]):
        problems[f"{prefix}.unit_amount"] = [AMOUNT_MESSAGE]
    for name in ("product_id", "variant_id"):
        if line.get(name) is not None and not is_text(line[name]):
            problems[f"{prefix}.{name}"] = [TEXT_MESSAGE]
    for name in ("categories", "collections"):
        tags = line.get(name)
        if tags is None:
            continue
        if not isinstance(tags, list) or len(tags) > MAX_LINE_TAGS:
            problems[f"{prefix}.{name}"] = [TAGS_MESSAGE]
        elif not all(is_text(tag) for tag in tags):
            problems[f"{prefix}.{name}"] = [TEXT_MESSAGE]
    if "discountable" in line and not isinstance(line["discountable"], bool):
        problems[f"{prefix}.discountable"] = ["Must be true or false."]
    return problems


def lines_problems(lines: object, *, prefix: str = "lines") -> dict[str, list[str]]:
    """The rules for an order's `lines` as JSON: each line's, unique ids, and totals
    within MAX_AMOUNT (each and together); keyed `lines.<index>.<field>`."""
    if not isinstance(lines, list) or not 1 <= len(lines) <= MAX_LINES:
        return {prefix: [LINES_MESSAGE]}
    problems: dict[str, list[str]] = {}
    seen: set[str] = set()
    total = 0
    for index, line in enumerate(lines):
        own = line_problems(line, prefix=f"{prefix}.{index}")
        problems.update(own)
        if own:
            continue
        assert isinstance(line, Mapping)
        if line["id"] in seen:
            problems[f"{prefix}.{index}.id"] = ["Must be unique within the order."]
        seen.add(line["id"])
        line_total = line["quantity"] * line["unit_amount"]
        if line_total > MAX_AMOUNT:
            problems[f"{prefix}.{index}.unit_amount"] = [TOTAL_MESSAGE]
        total += line_total
    if not problems and total > MAX_AMOUNT:
        problems[prefix] = [SUM_MESSAGE]
    return problems


def line_from_json(data: Mapping[str, Any]) -> Line:
    """A line from JSON that passed `line_problems` (or as stored by `line_json`)."""
    return Line(
        id=data["id"],
        quantity=data["quantity"],
        unit_amount=data["unit_amount"],
        product_id=data.get("product_id"),
        variant_id=data.get("variant_id"),
        categories=tuple(data.get("categories") or ()),
        collections=tuple(data.get("collections") or ()),
        discountable=data.get("discountable", True),
    )


def line_json(line: Line) -> dict[str, Any]:
    """A line with every field, defaults included: the order as priced."""
    return {
        "id": line.id,
        "product_id": line.product_id,
        "variant_id": line.variant_id,
        "categories": list(line.categories),
        "collections": list(line.collections),
        "quantity": line.quantity,
        "unit_amount": line.unit_amount,
        "discountable": line.discountable,
    }


def lines_total(lines: Sequence[Line]) -> int:
    return sum(line.total for line in lines)


def order_json(order: Order | None) -> dict[str, Any] | None:
    """The order as priced (the contract's `order` on a redemption or a hold)."""
    if order is None:
        return None
    return {
        "currency": order.currency,
        "amount": order.amount,
        "lines": None if order.lines is None else [line_json(line) for line in order.lines],
        "shipping_amount": order.shipping_amount,
    }
