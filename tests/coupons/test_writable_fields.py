"""Every writable field of a coupon (and of a campaign), set to a value that is not its
default, through every path that makes one: the API's create and batch, the admin's add and
batch pages, `generate_coupons`; then read back from the row, and from the CSV export.
Driven by coupons.domain.writable: a field that one path drops fails here."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django import forms
from django.core.management import call_command
from django.db import models
from django.urls import reverse

from coupons.admin.fields import form_field_names
from coupons.domain.discounts import Discount
from coupons.domain.writable import (
    CAMPAIGN_FIELDS,
    COUPON_FIELDS,
    Kind,
    Writable,
    all_columns,
    batch_fields,
    column_values,
    columns,
    default,
    values_from_columns,
)
from coupons.models import Campaign, Coupon
from coupons.services.campaigns import create_campaign

pytestmark = pytest.mark.django_db(transaction=True)

DISCOUNT = {
    "percent_off": Decimal("12.5"), "amount_off": None, "currency": "EUR",
    "max_amount_off": 5000, "min_order_amount": 2000,
}  # fmt: skip


def _moment(field: Writable, fields: tuple[Writable, ...]) -> datetime:
    # Each moment a day after the one declared before it: starts_at before expires_at.
    return datetime(2031, 3, 1 + fields.index(field), 12, 30, tzinfo=UTC)


# A value that is not the field's default, by kind.
SAMPLE: dict[Kind, Callable[[Writable, tuple[Writable, ...]], Any]] = {
    Kind.CODE: lambda f, fields: "WRITTEN-1",
    Kind.NAME: lambda f, fields: "Written in full",
    Kind.TEXT: lambda f, fields: "Some words of its own",
    Kind.COUNT: lambda f, fields: 7,
    Kind.LIMIT: lambda f, fields: 3,
    Kind.FLAG: lambda f, fields: False,
    Kind.MOMENT: _moment,
    Kind.DISCOUNT: lambda f, fields: dict(DISCOUNT),
    Kind.BUDGET: lambda f, fields: {"amount": 10_000, "currency": "EUR"},
    Kind.METADATA: lambda f, fields: {"source": "every-path", "n": "2"},
    Kind.CAMPAIGN: lambda f, fields: "the campaign",  # made by the test (see with_campaign)
}

# A code of a campaign takes the campaign's discount: the two are set in turn.
VARIANTS = {
    "with_discount": tuple(f for f in COUPON_FIELDS if f.kind is not Kind.CAMPAIGN),
    "with_campaign": tuple(f for f in COUPON_FIELDS if f.kind is not Kind.DISCOUNT),
}


def samples(fields: tuple[Writable, ...]) -> dict[str, Any]:
    return {field.name: SAMPLE[field.kind](field, fields) for field in fields}


def with_campaign(values: dict[str, Any]) -> dict[str, Any]:
    if "campaign_id" in values:
        values["campaign_id"] = create_campaign(name="Their campaign").pk
    return values


def stored(obj: models.Model, fields: tuple[Writable, ...]) -> dict[str, Any]:
    return values_from_columns(fields, {c: getattr(obj, c) for c in all_columns(fields)})


def assert_written(obj: models.Model, fields: tuple[Writable, ...], values: dict[str, Any]):
    assert stored(obj, fields) == values
    for field in fields:  # and every one of them not its default (so the test can fail)
        assert values[field.name] != default(field), field.name


def as_json(values: dict[str, Any]) -> str:
    def encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat().replace("+00:00", "Z")
        return str(value) if isinstance(value, uuid.UUID) else float(value)

    return json.dumps(values, default=encode)


# The API


@pytest.mark.parametrize("variant", VARIANTS)
async def test_the_api_create_writes_every_field(api, manage, variant):
    fields = VARIANTS[variant]
    values = await sync_to_async(with_campaign)(samples(fields))

    response = await api.post(
        "/v1/coupons/", content=as_json(values),
        headers={**manage, "Content-Type": "application/json"},
    )  # fmt: skip

    assert response.status_code == 201, response.text
    assert {f.name for f in COUPON_FIELDS} <= set(response.json())  # the answer shows them
    coupon = await Coupon.objects.aget(code=values["code"])
    assert_written(coupon, fields, values)


@pytest.mark.parametrize("variant", VARIANTS)
async def test_the_api_batch_writes_every_field(api, manage, variant):
    fields = batch_fields(VARIANTS[variant])
    values = await sync_to_async(with_campaign)(samples(fields))

    response = await api.post(
        "/v1/coupons/batch/",
        content=as_json({**values, "count": 2, "prefix": "API-", "length": 8}),
        headers={**manage, "Content-Type": "application/json"},
    )

    assert response.status_code == 201, response.text
    async for coupon in Coupon.objects.filter(code__in=response.json()["codes"]):
        assert_written(coupon, fields, values)


async def test_the_api_create_writes_every_field_of_a_campaign(api, manage):
    values = samples(CAMPAIGN_FIELDS)

    response = await api.post(
        "/v1/campaigns/", content=as_json(values),
        headers={**manage, "Content-Type": "application/json"},
    )  # fmt: skip

    assert response.status_code == 201, response.text
    assert {f.name for f in CAMPAIGN_FIELDS} <= set(response.json())
    assert_written(await Campaign.objects.aget(pk=response.json()["id"]), CAMPAIGN_FIELDS, values)


# The admin, posting each field as its form field's widget reads it


def form_data(form: forms.BaseForm, model: type[models.Model], values: dict, fields) -> dict:
    if values.get("discount") is not None:
        values = {**values, "discount": Discount(**values["discount"])}
    row = column_values(fields, values)
    data: dict[str, Any] = {}
    for column, name in zip(all_columns(fields), form_field_names(model, fields), strict=True):
        field, value = form.fields[name], row[column]
        if isinstance(field.widget, forms.MultiWidget):
            for index, part in enumerate(field.widget.decompress(value) or ()):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        elif isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(field, forms.JSONField):
            data[name] = json.dumps(value)
        else:
            data[name] = "" if value is None else str(value)
    return data


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_admin_add_form_writes_every_field(staff, variant):
    fields = VARIANTS[variant]
    values = with_campaign(samples(fields))
    url = reverse("admin:coupons_coupon_add")
    form = staff.get(url).context["adminform"].form

    response = staff.post(url, form_data(form, Coupon, values, fields))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert_written(Coupon.objects.get(code=values["code"]), fields, values)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_admin_batch_page_writes_every_field(staff, variant):
    fields = batch_fields(VARIANTS[variant])
    values = with_campaign(samples(fields))
    url = reverse("admin:coupons_coupon_generate")
    form = staff.get(url).context["form"]

    response = staff.post(
        url, {"count": 2, "prefix": "ADM-", "length": 8, **form_data(form, Coupon, values, fields)}
    )

    assert response["Content-Type"] == "text/csv", response.content.decode()[:3000]
    made = Coupon.objects.filter(code__startswith="ADM-")
    assert made.count() == 2
    for coupon in made:
        assert_written(coupon, fields, values)


def test_the_admin_add_form_writes_every_field_of_a_campaign(staff):
    values = samples(CAMPAIGN_FIELDS)
    url = reverse("admin:coupons_campaign_add")
    form = staff.get(url).context["adminform"].form

    response = staff.post(url, form_data(form, Campaign, values, CAMPAIGN_FIELDS))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert_written(Campaign.objects.get(), CAMPAIGN_FIELDS, values)


# generate_coupons


def options(field: Writable, value: Any) -> list[str]:
    """The field as generate_coupons takes it (`--name value`, a flag off as --no-name)."""
    option = "--" + field.name.replace("_", "-")
    if field.kind is Kind.FLAG:
        return [option if value else option.replace("--", "--no-", 1)]
    if field.kind is Kind.DISCOUNT:
        return [
            arg for name, part in value.items() if part is not None
            for arg in ("--" + name.replace("_", "-"), str(part))
        ]  # fmt: skip
    if field.kind is Kind.METADATA:
        return [arg for key, item in value.items() for arg in (option, f"{key}={item}")]
    if field.kind is Kind.CAMPAIGN:
        return [option.removesuffix("-id"), str(value)]
    return [option, value.isoformat() if isinstance(value, datetime) else str(value)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_generate_coupons_writes_every_field(tmp_path: Path, variant):
    fields = batch_fields(VARIANTS[variant])
    values = with_campaign(samples(fields))

    call_command(
        "generate_coupons", "--count", "2", "--prefix", "CLI-", "--length", "8",
        *[arg for field in fields for arg in options(field, values[field.name])],
        "--output", str(tmp_path / "codes.csv"), "--no-progress",
    )  # fmt: skip

    made = Coupon.objects.filter(code__startswith="CLI-")
    assert made.count() == 2
    for coupon in made:
        assert_written(coupon, fields, values)


# The CSV export: every column of every field, as stored

FROM_CSV: dict[Kind, Callable[[str], Any]] = {
    Kind.COUNT: int, Kind.LIMIT: int, Kind.FLAG: lambda cell: cell == "True",
    Kind.MOMENT: datetime.fromisoformat, Kind.METADATA: json.loads, Kind.CAMPAIGN: uuid.UUID,
    Kind.DISCOUNT: lambda cell: cell if cell.isalpha() else Decimal(cell),
}  # fmt: skip


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_csv_export_has_every_field(staff, variant):
    fields = VARIANTS[variant]
    values = with_campaign(samples(fields))
    if values.get("discount") is not None:
        values["discount"] = Discount(**values["discount"])
    coupon = Coupon.objects.create(**column_values(fields, values), remaining_count=7)

    exported = staff.post(
        reverse("admin:coupons_coupon_changelist"),
        {"_selected_action": [str(coupon.pk)], "action": "export_csv"},
    )

    (row,) = csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode()))
    for field in fields:
        for column in columns(field):
            cell, value = row[column], getattr(coupon, column)
            parse = FROM_CSV.get(field.kind, str)
            assert (None if cell == "" else parse(cell)) == value, column
