"""Currencies, amounts and percentages as the API takes them (no database)."""

from decimal import Decimal

import iso4217
import pytest

from core.domain.money import (
    MAX_AMOUNT,
    as_percent,
    is_amount,
    is_currency,
    is_percent,
    minor_units,
)


@pytest.mark.parametrize("code", ["EUR", "USD", "JPY", "KWD", "BHD", "CHF", "XOF", "XCD"])
def test_iso_4217_codes_in_upper_case_are_currencies(code):
    assert is_currency(code)


@pytest.mark.parametrize(
    "code",
    [
        "eur",  # the contract: upper case only
        "Eur",
        "ZZZ",  # no such code
        "EU",
        "EURO",
        " EUR",
        "DEM",  # withdrawn (2002): not in the current list
        "HRK",  # withdrawn when Croatia took the euro (2023)
        "XXX",  # "no currency": nothing to count minor units of
        "XTS",  # reserved for testing
        "XAU",  # gold, a troy ounce: no minor unit
        "XDR",  # the IMF's SDR: no minor unit
        "",
        None,
        978,  # the numeric code is not the alphabetic one
    ],
)
def test_other_strings_and_codes_without_a_minor_unit_are_not_currencies(code):
    assert not is_currency(code)


def test_every_code_the_iso_table_gives_a_minor_unit_is_a_currency_and_no_other():
    with_unit = {c.code for c in iso4217.Currency if c.exponent is not None}
    without_unit = {c.code for c in iso4217.Currency if c.exponent is None}

    assert len(with_unit) > 150
    assert all(is_currency(code) for code in with_unit)
    assert not any(is_currency(code) for code in without_unit)
    assert without_unit >= {"XXX", "XTS", "XAU", "XAG", "XPT", "XPD"}


def test_minor_units_are_iso_4217s():
    assert (minor_units("EUR"), minor_units("JPY"), minor_units("KWD")) == (2, 0, 3)
    with pytest.raises(ValueError, match="not a currency"):
        minor_units("XXX")


@pytest.mark.parametrize("value", [0, 1, 999, MAX_AMOUNT])
def test_amounts_are_integers_from_zero_to_the_maximum(value):
    assert is_amount(value)


@pytest.mark.parametrize("value", [-1, MAX_AMOUNT + 1, True, False, 1.0, "1", Decimal(1), None])
def test_other_amounts_are_refused(value):
    assert not is_amount(value)


@pytest.mark.parametrize(
    "value",
    [Decimal("12.5"), Decimal("12.50"), Decimal("12.500"), Decimal("0.01"), Decimal("100"),
     Decimal("1E+1"), Decimal("99.99"), 1, 20, 100],
)  # fmt: skip
def test_percentages_above_zero_up_to_100_with_two_decimals_are_accepted(value):
    assert is_percent(value)


@pytest.mark.parametrize(
    "value",
    [
        12.5,  # a float: already rounded through binary
        "12.5",
        True,
        Decimal("0"),
        Decimal("-0"),
        0,
        Decimal("-1"),
        Decimal("100.01"),
        101,
        Decimal("12.345"),
        Decimal("0.001"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("1E+999999"),
        Decimal("1E-999999"),
        None,
    ],
)
def test_other_percentages_are_refused_without_raising(value):
    assert not is_percent(value)


def test_a_percentage_is_kept_with_exactly_two_decimals():
    assert str(as_percent(Decimal("12.5"))) == "12.50"
    assert str(as_percent(20)) == "20.00"
    assert str(as_percent(Decimal("1E+1"))) == "10.00"
    with pytest.raises(ValueError):
        as_percent(Decimal("12.345"))
