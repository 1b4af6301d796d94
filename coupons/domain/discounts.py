"""What a coupon's discount is worth on an order, as pure functions of plain values.

The same arithmetic runs inside PostgreSQL (coupons.db.discount_sql); a test pins the two
together, so a redemption may compute its discount in the statement that spends the use.
"""

from __future__ import annotations

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

DISCOUNT_FIELDS = ("percent_off", "amount_off", "currency", "max_amount_off", "min_order_amount")
ONE_OF_MESSAGE = "Give exactly one of percent_off and amount_off."
CURRENCY_REQUIRED_MESSAGE = "Required with amount_off, max_amount_off or min_order_amount."
MAX_ONLY_WITH_PERCENT_MESSAGE = (
    "Only with percent_off: an amount_off discount is already its own maximum."
)

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
) -> dict[str, list[str]]:
    """The contract's rules for a discount, as `{"field": ["message", ...]}` (empty: valid).

    Values are taken as parsed from JSON (percentages as `Decimal` or int, never float);
    keys are the discount's own field names, which the API nests under `discount.`.
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

    if (percent_off is None) == (amount_off is None):
        add("percent_off", ONE_OF_MESSAGE)
        add("amount_off", ONE_OF_MESSAGE)
    if max_amount_off is not None and amount_off is not None:
        add("max_amount_off", MAX_ONLY_WITH_PERCENT_MESSAGE)
    if currency is None and (
        amount_off is not None or max_amount_off is not None or min_order_amount is not None
    ):
        add("currency", CURRENCY_REQUIRED_MESSAGE)
    return problems


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

    def __post_init__(self) -> None:
        problems = discount_problems(
            percent_off=self.percent_off,
            amount_off=self.amount_off,
            currency=self.currency,
            max_amount_off=self.max_amount_off,
            min_order_amount=self.min_order_amount,
        )
        if problems:
            raise InvalidDiscount(problems)
        if self.percent_off is not None:
            exact = Decimal(self.percent_off).quantize(PERCENT_STEP, context=DECIMAL_CONTEXT)
            object.__setattr__(self, "percent_off", exact)


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
    assert discount.percent_off is not None  # one of the two, by construction
    # Exact: at most 12 digits times 5 digits, over 100, well inside the context's 40.
    exact = DECIMAL_CONTEXT.divide(
        DECIMAL_CONTEXT.multiply(Decimal(order_amount), discount.percent_off), 100
    )
    off = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP, context=DECIMAL_CONTEXT))
    if discount.max_amount_off is not None:
        off = min(off, discount.max_amount_off)
    return max(0, min(off, order_amount))


class Order(NamedTuple):
    """What a code is used on: an amount in minor units of an ISO 4217 currency."""

    amount: int
    currency: str


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
    """The contract's shape: all five keys, `null` for those not set."""
    return {
        "percent_off": None if discount.percent_off is None else percent_json(discount.percent_off),
        "amount_off": discount.amount_off,
        "currency": discount.currency,
        "max_amount_off": discount.max_amount_off,
        "min_order_amount": discount.min_order_amount,
    }


def discount_from_json(data: Mapping[str, Any]) -> Discount:
    """The inverse of discount_json (a stored or echoed discount); InvalidDiscount when it
    breaks a rule or has keys of its own. A float percentage is read through its repr
    (the shortest decimal that gives that float back), as discount_json wrote it; input from
    clients goes through the API's PercentField instead, which refuses floats."""
    unknown = sorted(set(data) - set(DISCOUNT_FIELDS))
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
    )


def discount_columns(discount: Discount | None, *, prefix: str = "discount_") -> dict[str, Any]:
    """The discount as the coupon's columns (`discount_percent_off`, ...), all None for
    a coupon without one: what an INSERT or UPDATE of the coupon sets."""
    if discount is None:
        return {f"{prefix}{field}": None for field in DISCOUNT_FIELDS}
    return {f"{prefix}{field}": getattr(discount, field) for field in DISCOUNT_FIELDS}


def discount_from_columns(
    columns: Mapping[str, Any], *, prefix: str = "discount_"
) -> Discount | None:
    """The inverse of discount_columns: a coupon's discount from its columns (a row as a
    mapping, or `vars(coupon)`); None when it has none (a code that only counts uses)."""
    values = {field: columns[f"{prefix}{field}"] for field in DISCOUNT_FIELDS}
    if values["percent_off"] is None and values["amount_off"] is None:
        return None
    return Discount(**values)
