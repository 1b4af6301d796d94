"""The admin's forms for coupons: the API's bounds and discount rules, as forms."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.http import HttpResponse

from core.admin import EditThroughServiceForm
from core.domain.money import MAX_AMOUNT
from coupons.domain.codes import lookup_key
from coupons.domain.discounts import (
    DISCOUNT_FIELDS,
    TARGETING_FIELDS,
    Discount,
    discount_from_columns,
    discount_problems,
)
from coupons.domain.limits import (
    CODE_RULE,
    EDITABLE_FIELDS,
    MAX_BATCH,
    MAX_CODE_LENGTH,
    MAX_INIT_COUNT,
    MAX_PREFIX_LENGTH,
    MAX_RANDOM_LENGTH,
    MIN_RANDOM_LENGTH,
    PREFIX_PATTERN,
)
from coupons.models import Coupon
from coupons.services import coupons as coupon_service

EDITABLE = EDITABLE_FIELDS
# The discount as the coupon's columns, edited in the form like the API's `discount`:
# replaced whole, and only while the coupon was never redeemed. The targeting fields are
# one JSON value (`discount_rules`: applies_to, excludes, ... as the API takes them).
DISCOUNT_COLUMNS = tuple(f"discount_{name}" for name in (*DISCOUNT_FIELDS, "rules"))
RULES_MESSAGE = f"A JSON object of {', '.join(TARGETING_FIELDS)}."


def discount_errors(values: dict[str, Any]) -> dict[str, list[str]]:
    """The domain's rules for the five values and the targeting JSON (None where empty),
    keyed by form field (a targeting field's problems show on `discount_rules`)."""
    rules = values.get("discount_rules") or {}
    if all(values.get(f"discount_{name}") is None for name in DISCOUNT_FIELDS) and not rules:
        return {}
    if not isinstance(rules, dict) or set(rules) - set(TARGETING_FIELDS):
        return {"discount_rules": [RULES_MESSAGE]}
    problems = discount_problems(
        **{name: values.get(f"discount_{name}") for name in DISCOUNT_FIELDS},
        **{name: rules.get(name) for name in TARGETING_FIELDS},
    )
    errors: dict[str, list[str]] = {}
    for name, messages in problems.items():
        field = f"discount_{name}" if name in DISCOUNT_FIELDS else "discount_rules"
        prefix = "" if name in DISCOUNT_FIELDS else f"{name}: "
        errors.setdefault(field, []).extend(prefix + m for m in messages)
    return errors


def discount_of(values: dict[str, Any]) -> Discount | None:
    """The discount the form's values say (None when all are empty)."""
    return discount_from_columns({column: values.get(column) for column in DISCOUNT_COLUMNS})


class CouponChangeForm(EditThroughServiceForm):
    class Meta:
        model = Coupon
        fields = ("code", "init_count", *(f for f in EDITABLE if f != "init_count"),
                  *DISCOUNT_COLUMNS)  # fmt: skip
        help_texts = {
            "discount_percent_off": "e.g. 12.5; or give amount off instead (not both).",
            "discount_currency": "ISO 4217, e.g. EUR: needed with an amount off, a maximum "
            "or a minimum order.",
            "discount_max_amount_off": "In the currency's minor unit (cents for EUR).",
            "discount_min_order_amount": "In the currency's minor unit (cents for EUR).",
        }

    def clean_code(self) -> str:
        # The API's rule (only on add: a code never changes): a code outside the alphabet
        # would be one that no lookup finds.
        code = str(self.cleaned_data["code"])
        if lookup_key(code) is None:
            raise forms.ValidationError(CODE_RULE)
        return code

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if any(column in self.fields for column in DISCOUNT_COLUMNS):
            for field, errors in discount_errors(cleaned).items():
                for error in errors:
                    self.add_error(field, error)
        new_count = cleaned.get("init_count")
        if not self.instance._state.adding and new_count is not None:
            used = self.instance.init_count - self.instance.remaining_count
            if new_count < used:
                self.add_error(
                    "init_count", f"{used} uses are already spent: it cannot go below that."
                )
        return cleaned

    def service_edit(self) -> Any:
        changes = {f: self.cleaned_data[f] for f in self.changed_data if f in EDITABLE}
        if set(self.changed_data) & set(DISCOUNT_COLUMNS):
            changes["discount"] = discount_of(self.cleaned_data)
        return coupon_service.update_coupon(self.instance.pk, changes=changes)


class CodeBatchForm(forms.Form):
    """The API's batch bounds (`CouponBatchInput`), as a form: how many codes, what they
    look like, how many uses each."""

    count = forms.IntegerField(min_value=1, max_value=MAX_BATCH)
    prefix = forms.RegexField(  # type: ignore[assignment]
        regex=PREFIX_PATTERN, required=False, max_length=MAX_PREFIX_LENGTH
    )
    length = forms.IntegerField(min_value=MIN_RANDOM_LENGTH, max_value=MAX_RANDOM_LENGTH, initial=8)
    init_count = forms.IntegerField(
        min_value=1, max_value=MAX_INIT_COUNT, initial=1, label="uses per code"
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if len(cleaned.get("prefix") or "") + (cleaned.get("length") or 0) > MAX_CODE_LENGTH:
            self.add_error(
                "length", f"prefix + length must be at most {MAX_CODE_LENGTH} characters."
            )
        return cleaned


class BatchForm(CodeBatchForm):
    """A batch of stand-alone coupons: the batch bounds plus a window and a discount."""

    starts_at = forms.DateTimeField(required=False)
    expires_at = forms.DateTimeField(required=False)
    discount_percent_off = forms.DecimalField(
        required=False, max_digits=5, decimal_places=2, label="percent off"
    )
    discount_amount_off = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_AMOUNT, label="amount off (minor units)"
    )
    discount_currency = forms.CharField(required=False, max_length=3, label="currency")
    discount_max_amount_off = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_AMOUNT, label="at most (minor units)"
    )
    discount_min_order_amount = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_AMOUNT, label="minimum order (minor units)"
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["discount_currency"] = cleaned.get("discount_currency") or None
        for field, errors in discount_errors(cleaned).items():
            for error in errors:
                self.add_error(field, error)
        starts, expires = cleaned.get("starts_at"), cleaned.get("expires_at")
        if starts and expires and starts >= expires:
            self.add_error("expires_at", "Must be after the start.")
        return cleaned


def csv_rows(header: list[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def codes_csv_response(codes: list[str]) -> HttpResponse:
    """A generated batch's codes as a CSV download, named by the moment it was made."""
    stamp = datetime.now(tz=UTC).strftime("%Y%m%d-%H%M%S")
    response = HttpResponse(
        "".join(csv_rows(["code"], iter([[c] for c in codes]))), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="codes-{stamp}.csv"'
    return response
