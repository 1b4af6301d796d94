"""What a coupon's discount is worth on an order, as pure functions of plain values.

The same arithmetic runs inside PostgreSQL (coupons.db.discount_sql); a test pins the two
together, so a redemption may compute its discount in the statement that spends the use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from core.domain.money import (
    AMOUNT_MESSAGE,
    CURRENCY_MESSAGE,
    DECIMAL_CONTEXT,
    MAX_AMOUNT,
    PERCENT_MESSAGE,
    PERCENT_STEP,
    is_amount,
    is_currency,
    is_percent,
    percent_json,
)
from coupons.domain.limits import MAX_QUANTITY
from coupons.domain.orders import Order  # noqa: F401 - its old import path, kept
from coupons.domain.targeting import (
    BuyXGetY,
    Selector,
    buy_x_get_y_from_json,
    buy_x_get_y_json,
    buy_x_get_y_problems,
    selector_from_json,
    selector_json,
    selector_problems,
)

# The five with columns of their own (the one-statement SQL computes with them), and the
# targeting fields of the contract's third part, kept together in one JSON column.
DISCOUNT_FIELDS = ("percent_off", "amount_off", "currency", "max_amount_off", "min_order_amount")
TARGETING_FIELDS = (
    "applies_to", "excludes", "min_quantity", "allocation", "target", "buy_x_get_y",
    "combines_with",
)  # fmt: skip
ALL_DISCOUNT_FIELDS = DISCOUNT_FIELDS + TARGETING_FIELDS
ONE_OF_MESSAGE = "Give exactly one of percent_off, amount_off and buy_x_get_y."
CURRENCY_REQUIRED_MESSAGE = "Required with amount_off, max_amount_off or min_order_amount."
MAX_ONLY_WITH_PERCENT_MESSAGE = (
    "Only with percent_off, buy_x_get_y or allocation each: an amount_off discount is "
    "already its own maximum."
)
ALLOCATION_MESSAGE = 'Must be "across" or "each", and only with amount_off on lines.'
TARGET_MESSAGE = 'Must be "lines" or "shipping".'
NOT_ON_SHIPPING_MESSAGE = "Not with target shipping."
MIN_QUANTITY_MESSAGE = f"Must be null or an integer from 1 to {MAX_QUANTITY:,}."
# The classes a discount belongs to (coupons.domain.stacking), in the order they apply.
DISCOUNT_CLASSES = ("product", "order", "shipping")
COMBINES_WITH_MESSAGE = (
    "Must be null or an object of order, product and shipping, each true or false."
)
ALLOCATIONS = ("across", "each")
TARGETS = ("lines", "shipping")

CURRENCY_MISMATCH = "currency_mismatch"
MIN_ORDER_AMOUNT_NOT_MET = "min_order_amount_not_met"


class InvalidDiscount(ValueError):
    """A discount that breaks the contract's rules; `errors` names each field's problems."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def discount_problems(
    *,
    percent_off: object = None,
    amount_off: object = None,
    currency: object = None,
    max_amount_off: object = None,
    min_order_amount: object = None,
    applies_to: object = None,
    excludes: object = None,
    min_quantity: object = None,
    allocation: object = None,
    target: object = None,
    buy_x_get_y: object = None,
    combines_with: object = None,
) -> dict[str, list[str]]:
    """The contract's rules for a discount, as `{"field": ["message", ...]}` (empty: valid).

    Values are taken as parsed from JSON (percentages as `Decimal` or int, never float);
    keys are the discount's own field names, which the API nests under `discount.`
    (`applies_to.categories`, `buy_x_get_y.get.quantity`).
    """
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    if percent_off is not None and not is_percent(percent_off):
        add("percent_off", PERCENT_MESSAGE)
    for field, value in (
        ("amount_off", amount_off),
        ("max_amount_off", max_amount_off),
        ("min_order_amount", min_order_amount),
    ):
        if value is not None and not is_amount(value):
            add(field, AMOUNT_MESSAGE)
    if currency is not None and not is_currency(currency):
        add("currency", CURRENCY_MESSAGE)

    for field, value in (("applies_to", applies_to), ("excludes", excludes)):
        for key, messages in selector_problems(value, field=field).items():
            problems.setdefault(key, []).extend(messages)
    for key, messages in buy_x_get_y_problems(buy_x_get_y).items():
        problems.setdefault(key, []).extend(messages)
    if min_quantity is not None and not (
        type(min_quantity) is int and 1 <= min_quantity <= MAX_QUANTITY
    ):
        add("min_quantity", MIN_QUANTITY_MESSAGE)
    if not is_combines_with(combines_with):
        add("combines_with", COMBINES_WITH_MESSAGE)
    if target is not None and target not in TARGETS:
        add("target", TARGET_MESSAGE)
    shipping = target == "shipping"
    if allocation is not None and (allocation not in ALLOCATIONS or amount_off is None or shipping):
        add("allocation", ALLOCATION_MESSAGE)
    if shipping:
        for field, value in (
            ("applies_to", applies_to), ("excludes", excludes), ("buy_x_get_y", buy_x_get_y)
        ):  # fmt: skip
            if value is not None:
                add(field, NOT_ON_SHIPPING_MESSAGE)

    kinds = [name for name, value in (("percent_off", percent_off), ("amount_off", amount_off),
             ("buy_x_get_y", buy_x_get_y)) if value is not None]  # fmt: skip
    if len(kinds) != 1:
        for name in kinds or ["percent_off", "amount_off"]:
            add(name, ONE_OF_MESSAGE)
    if max_amount_off is not None and amount_off is not None and allocation != "each":
        add("max_amount_off", MAX_ONLY_WITH_PERCENT_MESSAGE)
    if currency is None and (
        amount_off is not None or max_amount_off is not None or min_order_amount is not None
    ):
        add("currency", CURRENCY_REQUIRED_MESSAGE)
    return problems


def is_combines_with(value: object) -> bool:
    """null, the classes as parsed, or an object of up to the three classes, each a bool."""
    if value is None or isinstance(value, frozenset):
        return True
    return (
        isinstance(value, Mapping)
        and set(value) <= set(DISCOUNT_CLASSES)
        and all(isinstance(flag, bool) for flag in value.values())
    )


def combines_with_from_json(
    value: Mapping[str, bool] | frozenset[str] | None,
) -> frozenset[str] | None:
    """The classes a discount may be used with; None for none (a key left out is false)."""
    if value is None or isinstance(value, frozenset):
        return value or None
    return frozenset(name for name in DISCOUNT_CLASSES if value.get(name)) or None


def combines_with_json(classes: frozenset[str] | None) -> dict[str, bool]:
    """Whole: every class, true or false."""
    return {name: name in (classes or ()) for name in ("order", "product", "shipping")}


@dataclass(frozen=True, slots=True)
class Discount:
    """A coupon's discount, valid by construction (InvalidDiscount otherwise).

    `percent_off` keeps exactly two decimals (`Decimal("12.50")`), as the column does, so
    a discount read back from the database equals the one written.
    """

    percent_off: Decimal | None = None
    amount_off: int | None = None
    currency: str | None = None
    max_amount_off: int | None = None
    min_order_amount: int | None = None
    # The third part: which lines it looks at, and its kind's options. Given as JSON or as
    # parsed; kept parsed. The defaults ("across", "lines") are kept as None, so that a
    # discount sent with them equals one sent without.
    applies_to: Selector | None = None
    excludes: Selector | None = None
    min_quantity: int | None = None
    allocation: str | None = None
    target: str | None = None
    buy_x_get_y: BuyXGetY | None = None
    # The classes of discount it may be used with on one order (none: the default, one
    # discounted code per order); kept as a set, None for none.
    combines_with: frozenset[str] | None = None

    def __post_init__(self) -> None:
        problems = discount_problems(**{name: getattr(self, name) for name in ALL_DISCOUNT_FIELDS})
        if problems:
            raise InvalidDiscount(problems)
        if self.percent_off is not None:
            exact = Decimal(self.percent_off).quantize(PERCENT_STEP, context=DECIMAL_CONTEXT)
            object.__setattr__(self, "percent_off", exact)
        object.__setattr__(self, "applies_to", selector_from_json(self.applies_to))
        object.__setattr__(self, "excludes", selector_from_json(self.excludes))
        object.__setattr__(self, "buy_x_get_y", buy_x_get_y_from_json(self.buy_x_get_y))
        object.__setattr__(self, "combines_with", combines_with_from_json(self.combines_with))
        if self.allocation == "across":
            object.__setattr__(self, "allocation", None)
        if self.target == "lines":
            object.__setattr__(self, "target", None)

    @property
    def is_targeted(self) -> bool:
        """Uses a field of the third part: priced by coupons.domain.carts, never by SQL."""
        return any(getattr(self, name) is not None for name in TARGETING_FIELDS)

    @property
    def discount_class(self) -> str:
        """`product` (buy X get Y, or targeted lines), `order` (any other lines discount)
        or `shipping`: which others it may be used with, and when it applies."""
        if self.target == "shipping":
            return "shipping"
        return "product" if self.needs_lines else "order"

    def combines(self, other: Discount) -> bool:
        """Each one's `combines_with` allows the other's class."""
        return other.discount_class in (self.combines_with or ()) and (
            self.discount_class in (other.combines_with or ())
        )

    @property
    def needs_lines(self) -> bool:
        """Looks at products or categories: an order without lines is lines_required."""
        return (
            self.applies_to is not None or self.excludes is not None or self.buy_x_get_y is not None
        )


def discount_for(discount: Discount, *, order_amount: int) -> int:
    """The discount on an order of `order_amount` minor units.

    Percent: order_amount x percent_off / 100, rounded half up to a whole minor unit, then
    at most max_amount_off. Amount: amount_off. Never more than the order, never negative.
    12.5 % of 999 is 124.875, so 125.
    """
    if not is_amount(order_amount):
        raise ValueError(f"not an order amount (0 to {MAX_AMOUNT:,}): {order_amount!r}")
    if discount.amount_off is not None:
        return min(discount.amount_off, order_amount)
    if discount.percent_off is None:
        raise ValueError("a buy_x_get_y discount is priced on lines (coupons.domain.carts)")
    # Exact: at most 12 digits times 5 digits, over 100, well inside the context's 40.
    exact = DECIMAL_CONTEXT.divide(
        DECIMAL_CONTEXT.multiply(Decimal(order_amount), discount.percent_off), 100
    )
    off = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP, context=DECIMAL_CONTEXT))
    if discount.max_amount_off is not None:
        off = min(off, discount.max_amount_off)
    return max(0, min(off, order_amount))


class OrderRefusal(NamedTuple):
    """Why an order cannot take a discount: a stable `code` and the `details` to show."""

    code: str
    details: dict[str, int | str]


def order_refusal(discount: Discount, *, order_amount: int, currency: str) -> OrderRefusal | None:
    """`currency_mismatch` or `min_order_amount_not_met` (in that order), or None when the
    order qualifies. A percent discount without a currency fits an order in any currency."""
    if discount.currency is not None and currency != discount.currency:
        return OrderRefusal(CURRENCY_MISMATCH, {"currency": discount.currency})
    minimum = discount.min_order_amount
    if minimum is not None and order_amount < minimum:
        assert discount.currency is not None  # required with a minimum, by construction
        return OrderRefusal(
            MIN_ORDER_AMOUNT_NOT_MET,
            {
                "min_order_amount": minimum,
                "shortfall": minimum - order_amount,
                "currency": discount.currency,
            },
        )
    return None


def discount_json(discount: Discount) -> dict[str, Any]:
    """The contract's shape: all five keys, `null` for those not set; the targeting
    fields only when set (a discount of the second part reads as it always did); and
    `combines_with` whole."""
    shown: dict[str, Any] = {
        "percent_off": None if discount.percent_off is None else percent_json(discount.percent_off),
        "amount_off": discount.amount_off,
        "currency": discount.currency,
        "max_amount_off": discount.max_amount_off,
        "min_order_amount": discount.min_order_amount,
    }
    shown.update(targeting_json(discount) or {})
    shown["combines_with"] = combines_with_json(discount.combines_with)
    return shown


def targeting_json(discount: Discount) -> dict[str, Any] | None:
    """The targeting fields that are set (None: none is), as JSON: the answer's, and the
    value of the `discount_rules` column."""
    values = {
        "applies_to": selector_json(discount.applies_to),
        "excludes": selector_json(discount.excludes),
        "min_quantity": discount.min_quantity,
        "allocation": discount.allocation,
        "target": discount.target,
        "buy_x_get_y": buy_x_get_y_json(discount.buy_x_get_y),
        "combines_with": (
            None if discount.combines_with is None else combines_with_json(discount.combines_with)
        ),
    }
    return {name: value for name, value in values.items() if value is not None} or None


def discount_from_json(data: Mapping[str, Any]) -> Discount:
    """The inverse of discount_json (a stored or echoed discount); InvalidDiscount when it
    breaks a rule or has keys of its own. A float percentage is read through its repr
    (the shortest decimal that gives that float back), as discount_json wrote it; input from
    clients goes through the API's PercentField instead, which refuses floats."""
    unknown = sorted(set(data) - set(ALL_DISCOUNT_FIELDS))
    if unknown:
        raise InvalidDiscount({key: ["Unknown field."] for key in unknown})
    percent = data.get("percent_off")
    if isinstance(percent, float):
        percent = Decimal(repr(percent))
    return Discount(
        percent_off=percent,
        amount_off=data.get("amount_off"),
        currency=data.get("currency"),
        max_amount_off=data.get("max_amount_off"),
        min_order_amount=data.get("min_order_amount"),
        **_stored(data),
    )


def discount_columns(discount: Discount | None, *, prefix: str = "discount_") -> dict[str, Any]:
    """The discount as the coupon's columns (`discount_percent_off`, ..., and the
    targeting fields as one JSON value in `discount_rules`), all None for a coupon
    without one: what an INSERT or UPDATE of the coupon sets."""
    if discount is None:
        return {f"{prefix}{field}": None for field in (*DISCOUNT_FIELDS, "rules")}
    columns = {f"{prefix}{field}": getattr(discount, field) for field in DISCOUNT_FIELDS}
    columns[f"{prefix}rules"] = targeting_json(discount)
    return columns


def discount_from_columns(
    columns: Mapping[str, Any], *, prefix: str = "discount_"
) -> Discount | None:
    """The inverse of discount_columns: a coupon's discount from its columns (a row as a
    mapping, or `vars(coupon)`); None when it has none (a code that only counts uses).
    `discount_rules` may be left out (none), or be JSON text as a raw row gives it."""
    values: dict[str, Any] = {field: columns[f"{prefix}{field}"] for field in DISCOUNT_FIELDS}
    rules = columns.get(f"{prefix}rules")
    if isinstance(rules, str):
        rules = json.loads(rules)
    rules = rules or {}
    if values["percent_off"] is None and values["amount_off"] is None and not rules:
        return None
    return Discount(**values, **_stored(rules))


def _stored(rules: Mapping[str, Any]) -> dict[str, Any]:
    """The targeting fields of stored or echoed JSON, whose get.percent_off may have come
    back as a float: read through its repr, as discount_json wrote it."""
    values = {name: rules.get(name) for name in TARGETING_FIELDS}
    rule = values["buy_x_get_y"]
    if isinstance(rule, Mapping) and isinstance(rule.get("get"), Mapping):
        percent = rule["get"].get("percent_off")
        if isinstance(percent, float):
            values["buy_x_get_y"] = {
                **rule,
                "get": {**rule["get"], "percent_off": Decimal(repr(percent))},
            }
    return values
