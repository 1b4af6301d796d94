"""The admin's forms for coupons: the API's bounds and discount rules, as forms."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.http import HttpResponse

from core.admin import EditThroughServiceForm
from coupons.admin.fields import edit_changes, form_field_names, form_fields
from coupons.domain.discounts import (
    DISCOUNT_FIELDS,
    TARGETING_FIELDS,
    Discount,
    discount_from_columns,
    discount_problems,
)
from coupons.domain.limits import (
    MAX_BATCH,
    MAX_CODE_LENGTH,
    MAX_PREFIX_LENGTH,
    MAX_RANDOM_LENGTH,
    MIN_RANDOM_LENGTH,
    PREFIX_PATTERN,
)
from coupons.domain.writable import COUPON_FIELDS, Kind, Writable, batch_fields, editable
from coupons.models import Coupon
from coupons.services import coupons as coupon_service

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
    """The add and change forms: every field of COUPON_FIELDS (the admin makes those it
    shows read-only so)."""

    class Meta:
        model = Coupon
        fields = form_field_names(Coupon, COUPON_FIELDS)

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
        changes = edit_changes(self, editable(COUPON_FIELDS))
        return coupon_service.update_coupon(self.instance.pk, changes=changes)


class CodeBatchForm(forms.Form):
    """The API's batch bounds (`CouponBatchInput`), as a form: how many codes and what they
    look like; then the fields of `writable`, which every code of the batch takes."""

    count = forms.IntegerField(min_value=1, max_value=MAX_BATCH)
    prefix = forms.RegexField(  # type: ignore[assignment]
        regex=PREFIX_PATTERN, required=False, max_length=MAX_PREFIX_LENGTH
    )
    length = forms.IntegerField(min_value=MIN_RANDOM_LENGTH, max_value=MAX_RANDOM_LENGTH, initial=8)

    writable: tuple[Writable, ...] = batch_fields(COUPON_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(form_fields(Coupon, self.writable))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if len(cleaned.get("prefix") or "") + (cleaned.get("length") or 0) > MAX_CODE_LENGTH:
            self.add_error(
                "length", f"prefix + length must be at most {MAX_CODE_LENGTH} characters."
            )
        for field, errors in discount_errors(cleaned).items():
            for error in errors:
                self.add_error(field, error)
        starts, expires = cleaned.get("starts_at"), cleaned.get("expires_at")
        if starts and expires and starts >= expires:
            self.add_error("expires_at", "Must be after the start.")
        return cleaned


class BatchForm(CodeBatchForm):
    """A batch of coupons: every field a batch gives its codes."""


class CampaignCodesForm(CodeBatchForm):
    """Codes of one campaign: they take its discount, and join it."""

    writable = tuple(
        field
        for field in batch_fields(COUPON_FIELDS)
        if field.kind not in (Kind.DISCOUNT, Kind.CAMPAIGN)
    )


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
