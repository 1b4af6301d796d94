"""Which lines a discount looks at (`applies_to`, `excludes`) and the parts of a buy X
get Y discount, parsed from JSON with the contract's bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.domain.money import as_percent, is_percent, percent_json
from coupons.domain.limits import MAX_APPLICATIONS, MAX_QUANTITY, MAX_SELECTOR_ITEMS
from coupons.domain.orders import TEXT_MESSAGE, Line, is_quantity, is_text

SELECTOR_FIELDS = ("product_ids", "variant_ids", "categories", "collections")
SELECTOR_MESSAGE = "Must be null or an object of product_ids, variant_ids, categories, collections."
SELECTOR_EMPTY_MESSAGE = "At least one of its lists must name something."
SELECTOR_LIST_MESSAGE = f"Must be a list of at most {MAX_SELECTOR_ITEMS} strings."
BXGY_QUANTITY_MESSAGE = f"Must be an integer from 1 to {MAX_QUANTITY:,}."
APPLICATIONS_MESSAGE = f"Must be null or an integer from 1 to {MAX_APPLICATIONS:,}."
GET_PERCENT_MESSAGE = "Must be a number from 1 to 100 with at most two decimals."

Problems = dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Selector:
    """Lines whose product, variant, a category or a collection is named here."""

    product_ids: frozenset[str] = frozenset()
    variant_ids: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    collections: frozenset[str] = frozenset()
    # The lists as given (order kept), for the answer.
    given: tuple[tuple[str, ...], ...] = ((), (), (), ())

    def matches(self, line: Line) -> bool:
        return (
            (line.product_id is not None and line.product_id in self.product_ids)
            or (line.variant_id is not None and line.variant_id in self.variant_ids)
            or any(c in self.categories for c in line.categories)
            or any(c in self.collections for c in line.collections)
        )


def matches(selector: Selector | None, line: Line) -> bool:
    """`null` matches every line."""
    return selector is None or selector.matches(line)


def selector_problems(value: object, *, field: str) -> Problems:
    if value is None or isinstance(value, Selector):
        return {}
    if not isinstance(value, Mapping):
        return {field: [SELECTOR_MESSAGE]}
    problems: Problems = {}
    for name in sorted(set(value) - set(SELECTOR_FIELDS)):
        problems[f"{field}.{name}"] = ["Unknown field."]
    for name in SELECTOR_FIELDS:
        items = value.get(name, [])
        if not isinstance(items, list) or len(items) > MAX_SELECTOR_ITEMS:
            problems[f"{field}.{name}"] = [SELECTOR_LIST_MESSAGE]
        elif not all(is_text(item) for item in items):
            problems[f"{field}.{name}"] = [TEXT_MESSAGE]
    if not problems and not any(value.get(name) for name in SELECTOR_FIELDS):
        problems[field] = [SELECTOR_EMPTY_MESSAGE]
    return problems


def selector_from_json(value: Mapping[str, Any] | Selector | None) -> Selector | None:
    if value is None or isinstance(value, Selector):
        return value
    lists = tuple(tuple(value.get(name) or ()) for name in SELECTOR_FIELDS)
    products, variants, categories, collections = (frozenset(items) for items in lists)
    return Selector(products, variants, categories, collections, given=lists)


def selector_json(selector: Selector | None) -> dict[str, list[str]] | None:
    if selector is None:
        return None
    return {name: list(items) for name, items in zip(SELECTOR_FIELDS, selector.given, strict=True)}


@dataclass(frozen=True, slots=True)
class BuyXGetY:
    """One application: `buy_quantity` units bought (matching `buy_applies_to`) give
    `get_quantity` units (matching `get_applies_to`) `get_percent_off` off."""

    buy_quantity: int
    get_quantity: int
    get_percent_off: Decimal = Decimal(100)
    buy_applies_to: Selector | None = None
    get_applies_to: Selector | None = None
    max_applications: int | None = None


def _is_get_percent(value: object) -> bool:
    return is_percent(value) and as_percent(value) >= 1  # type: ignore[arg-type]


def buy_x_get_y_problems(value: object, *, field: str = "buy_x_get_y") -> Problems:
    if value is None or isinstance(value, BuyXGetY):
        return {}
    if not isinstance(value, Mapping):
        return {field: ["Must be an object with buy, get and max_applications."]}
    problems: Problems = {}
    for name in sorted(set(value) - {"buy", "get", "max_applications"}):
        problems[f"{field}.{name}"] = ["Unknown field."]
    for side, allowed in (("buy", {"quantity", "applies_to"}),
                          ("get", {"quantity", "applies_to", "percent_off"})):  # fmt: skip
        part = value.get(side)
        if not isinstance(part, Mapping):
            problems[f"{field}.{side}"] = ["Must be an object with quantity and applies_to."]
            continue
        for name in sorted(set(part) - allowed):
            problems[f"{field}.{side}.{name}"] = ["Unknown field."]
        if not is_quantity(part.get("quantity")):
            problems[f"{field}.{side}.quantity"] = [BXGY_QUANTITY_MESSAGE]
        problems.update(
            selector_problems(part.get("applies_to"), field=f"{field}.{side}.applies_to")
        )
        if side == "get" and "percent_off" in part and not _is_get_percent(part["percent_off"]):
            problems[f"{field}.get.percent_off"] = [GET_PERCENT_MESSAGE]
    applications = value.get("max_applications")
    if applications is not None and not (
        type(applications) is int and 1 <= applications <= MAX_APPLICATIONS
    ):
        problems[f"{field}.max_applications"] = [APPLICATIONS_MESSAGE]
    return problems


def buy_x_get_y_from_json(value: Mapping[str, Any] | BuyXGetY | None) -> BuyXGetY | None:
    if value is None or isinstance(value, BuyXGetY):
        return value
    buy, get = value["buy"], value["get"]
    percent = get.get("percent_off", 100)
    if isinstance(percent, float):  # as stored in JSON: read through its shortest repr
        percent = Decimal(repr(percent))
    return BuyXGetY(
        buy_quantity=buy["quantity"],
        get_quantity=get["quantity"],
        get_percent_off=as_percent(percent),
        buy_applies_to=selector_from_json(buy.get("applies_to")),
        get_applies_to=selector_from_json(get.get("applies_to")),
        max_applications=value.get("max_applications"),
    )


def buy_x_get_y_json(rule: BuyXGetY | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "buy": {"quantity": rule.buy_quantity, "applies_to": selector_json(rule.buy_applies_to)},
        "get": {
            "quantity": rule.get_quantity,
            "applies_to": selector_json(rule.get_applies_to),
            "percent_off": percent_json(rule.get_percent_off),
        },
        "max_applications": rule.max_applications,
    }
