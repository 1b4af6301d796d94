"""The admin's side of coupons.domain.writable: one table from a field's kind to its form
fields (the model column's own form field, with the API's bounds) and one to its CSV cells."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from core.domain.metadata import metadata_problems
from core.domain.money import MAX_AMOUNT, percent_json
from coupons.domain.codes import lookup_key
from coupons.domain.limits import (
    CODE_RULE,
    MAX_INIT_COUNT,
    TIMESTAMP_YEARS_RULE,
    timestamp_in_range,
)
from coupons.domain.writable import Kind, Writable, all_columns, columns, values_from_columns


def _code_rule(code: str) -> None:
    # The API's rule: a code outside the alphabet would be one that no lookup finds.
    if lookup_key(code) is None:
        raise forms.ValidationError(CODE_RULE)


class MetadataFormField(forms.JSONField):
    """Metadata as a JSON object of strings, within the API's bounds; empty: `{}`."""

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return {} if value is None else value

    def validate(self, value: Any) -> None:
        super().validate(value)
        problems = metadata_problems(value)
        if problems:
            raise forms.ValidationError([m for messages in problems.values() for m in messages])


_AMOUNT = {"min_value": 0, "max_value": MAX_AMOUNT}
_MINOR_UNITS = "In the currency's minor unit (cents for EUR)."
_DISCOUNT_HELP = {
    "discount_percent_off": "e.g. 12.5; or give amount off instead (not both).",
    "discount_amount_off": _MINOR_UNITS,
    "discount_currency": "ISO 4217, e.g. EUR: needed with an amount off, a maximum or a "
    "minimum order.",
    "discount_max_amount_off": _MINOR_UNITS,
    "discount_min_order_amount": _MINOR_UNITS,
    "discount_rules": "Targeting, as JSON: applies_to, excludes, min_quantity, allocation, "
    "target, buy_x_get_y (as the API's discount takes them).",
}


def _discount(column: str) -> dict[str, Any]:
    plain = ("discount_percent_off", "discount_currency", "discount_rules")
    amount = {} if column in plain else _AMOUNT
    return {**amount, "help_text": _DISCOUNT_HELP[column]}


def _year_in_utc(moment: datetime) -> None:
    """The API's year bounds, in UTC (coupons.domain.limits.timestamp_in_range)."""
    if not timestamp_in_range(moment):
        raise forms.ValidationError(TIMESTAMP_YEARS_RULE)


def _none(column: str) -> dict[str, Any]:
    return {}


# The options of each column's form field, by the kind of its writable field.
_FORM_OPTIONS: dict[Kind, Callable[[str], dict[str, Any]]] = {
    Kind.CODE: lambda column: {"validators": [_code_rule]},
    Kind.NAME: _none,
    Kind.TEXT: _none,
    Kind.COUNT: lambda column: {"min_value": 1, "max_value": MAX_INIT_COUNT, "initial": 1},
    Kind.LIMIT: lambda column: {"min_value": 1, "max_value": MAX_INIT_COUNT},
    Kind.FLAG: _none,
    Kind.MOMENT: lambda column: {"validators": [_year_in_utc]},
    Kind.DISCOUNT: _discount,
    Kind.BUDGET: lambda column: _AMOUNT if column == "budget_amount" else {},
    Kind.METADATA: lambda column: {"form_class": MetadataFormField, "required": False},
    Kind.CAMPAIGN: _none,
}


def _model_field(model: type[models.Model], column: str) -> Any:
    return model._meta.get_field(column)


def form_field_names(model: type[models.Model], fields: Sequence[Writable]) -> tuple[str, ...]:
    """The form's names of `fields`' columns (a foreign key's is the model field's name)."""
    return tuple(_model_field(model, column).name for column in all_columns(fields))


def form_options(model: type[models.Model], fields: Sequence[Writable]) -> dict[str, Any]:
    """{form name: options} for the model's form fields of `fields`' columns."""
    return {
        _model_field(model, column).name: _FORM_OPTIONS[field.kind](column)
        for field in fields
        for column in columns(field)
    }


def form_fields(model: type[models.Model], fields: Sequence[Writable]) -> dict[str, forms.Field]:
    """The form fields of `fields`, for a form that is no ModelForm (a batch's)."""
    found = {}
    for name, options in form_options(model, fields).items():
        formfield = _model_field(model, name).formfield(**options)
        # A callable default (metadata's dict) needs no hidden initial on a plain form.
        formfield.show_hidden_initial = False
        found[name] = formfield
    return found


def form_values(
    model: type[models.Model], fields: Sequence[Writable], cleaned: Mapping[str, Any]
) -> dict[str, Any]:
    """The API's values of `fields` from a form's cleaned data, as the services take them."""
    row = {}
    for column in all_columns(fields):
        value = cleaned.get(_model_field(model, column).name)
        row[column] = value.pk if isinstance(value, models.Model) else value
    return values_from_columns(fields, row)


def edit_changes(form: forms.ModelForm, fields: Sequence[Writable]) -> dict[str, Any]:
    """The fields an edit changed, as the services' update takes them: metadata, which the
    services merge, as the patch that makes it what the form says."""
    model = form._meta.model
    values = form_values(model, fields, form.cleaned_data)
    changed = set(form.changed_data)
    changes = {}
    for field in fields:
        if not changed & {_model_field(model, column).name for column in columns(field)}:
            continue
        value = values[field.name]
        if field.kind is Kind.METADATA:
            was = form.initial.get(field.name) or {}
            value = {**{key: None for key in was if key not in value}, **value}
        changes[field.name] = value
    return changes


class WritableFieldsAdmin(admin.ModelAdmin):
    """A ModelAdmin whose form fields of `writable` take the kinds' options (the admin's
    widgets stay)."""

    writable: Sequence[Writable] = ()

    def formfield_for_dbfield(
        self, db_field: models.Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        options = form_options(self.model, self.writable).get(db_field.name, {})
        return super().formfield_for_dbfield(db_field, request, **{**options, **kwargs})


def _moment(value: Any) -> Any:
    return value and value.isoformat()


def _same(value: Any) -> Any:
    return value


def _campaign(value: Any) -> Any:
    return value and str(value)


def _discount_cell(column: str) -> Callable[[Any], Any]:
    if column == "discount_percent_off":
        return lambda value: None if value is None else percent_json(value)
    if column == "discount_rules":
        return lambda value: None if value is None else json.dumps(value)
    return _same


# Each column's CSV cell, by the kind of its writable field.
_CSV_CELL: dict[Kind, Callable[[str], Callable[[Any], Any]]] = {
    Kind.CODE: lambda column: _same,
    Kind.NAME: lambda column: _same,
    Kind.TEXT: lambda column: _same,
    Kind.COUNT: lambda column: _same,
    Kind.LIMIT: lambda column: _same,
    Kind.FLAG: lambda column: _same,
    Kind.MOMENT: lambda column: _moment,
    Kind.DISCOUNT: _discount_cell,
    Kind.BUDGET: lambda column: _same,
    Kind.METADATA: lambda column: json.dumps,
    Kind.CAMPAIGN: lambda column: _campaign,
}


def csv_columns(
    fields: Sequence[Writable], *, read_only: Mapping[str, Callable[[Any], Any]]
) -> tuple[list[str], list[Callable[[Any], Any]]]:
    """The export's header (`fields`' columns, then `read_only`'s) and each one's cell."""
    header = [*all_columns(fields), *read_only]
    cells = [_CSV_CELL[f.kind](column) for f in fields for column in columns(f)]
    return header, [*cells, *read_only.values()]
