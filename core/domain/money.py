"""Money as the API speaks it: integer amounts in a currency's minor unit, ISO 4217 codes,
and percentages read exactly as `Decimal` (never through binary floating point)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from functools import cache

import iso4217

MAX_AMOUNT = 100_000_000_000
MAX_PERCENT = Decimal(100)
PERCENT_PLACES = 2
PERCENT_STEP = Decimal(1).scaleb(-PERCENT_PLACES)  # 0.01
# Our own context, not the thread's (which any library may change): rounding is set here,
# and inexact results are flagged, never trapped, so that a check answers, not raises.
DECIMAL_CONTEXT = Context(
    prec=40, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow]
)

AMOUNT_MESSAGE = f"Must be an integer from 0 to {MAX_AMOUNT:,} (in the currency's minor unit)."
PERCENT_MESSAGE = (
    f"Must be a number more than 0 and at most 100, with at most {PERCENT_PLACES} decimals."
)
CURRENCY_MESSAGE = "Must be an ISO 4217 currency code in upper case, like EUR."


@cache
def _minor_units_by_code() -> dict[str, int]:
    """ISO 4217's own table (the maintenance agency's list one, as the `iso4217` package
    ships it), without the codes whose minor unit is "N.A.": XXX (no currency), XTS
    (testing), precious metals, bond-market units, SDR. Amounts are counted in a minor
    unit, so a code without one cannot price an order."""
    return {
        currency.code: currency.exponent
        for currency in iso4217.Currency
        if currency.exponent is not None
    }


def currencies() -> list[str]:
    """Every code is_currency accepts, sorted (for the OpenAPI document's enum)."""
    return sorted(_minor_units_by_code())


def is_currency(code: object) -> bool:
    """Whether `code` is an ISO 4217 alphabetic code, in upper case (`eur` is not)."""
    return isinstance(code, str) and code in _minor_units_by_code()


def minor_units(code: str) -> int:
    """How many decimals the currency's minor unit has: 2 for EUR, 0 for JPY, 3 for KWD."""
    try:
        return _minor_units_by_code()[code]
    except KeyError:
        raise ValueError(f"not a currency: {code!r}") from None


def is_amount(value: object) -> bool:
    """An amount in minor units: a (non-boolean) integer from 0 to MAX_AMOUNT."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_AMOUNT


def is_percent(value: object) -> bool:
    """A percentage as the API takes it: a `Decimal` or an integer (never a float or a
    boolean), more than 0, at most 100, with at most two decimals by value (12.50 is 12.5)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return False
    number = Decimal(value)
    # Bounds first: quantize() of a huge exponent (1E+999999) would raise, not answer.
    if not number.is_finite() or not 0 < number <= MAX_PERCENT:
        return False
    return number == number.quantize(PERCENT_STEP, context=DECIMAL_CONTEXT)


def as_percent(value: int | Decimal) -> Decimal:
    """A valid percentage (see is_percent) with exactly two decimals, as the column keeps it."""
    if not is_percent(value):
        raise ValueError(f"not a percentage: {value!r}")
    return Decimal(value).quantize(PERCENT_STEP, context=DECIMAL_CONTEXT)


def percent_json(percent: Decimal) -> int | float:
    """A percentage as a JSON number: 20, not 20.0; 12.5, not "12.50".

    The float is exact enough: for every two-decimal percentage, repr(float(p)) is p's own
    shortest decimal (at most 5 significant digits, far under a double's 15), so a JSON
    encoder writes 12.5 and a reader parsing it as Decimal gets 12.5 back (tested for all
    10,000 of them).
    """
    if percent == percent.to_integral_value():
        return int(percent)
    return float(percent)
