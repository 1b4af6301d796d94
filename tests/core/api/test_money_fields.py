"""The API's input fields for money, discounts, orders and metadata: strict JSON types,
the domain's rules, errors as `{"discount.percent_off": [...]}` (no database)."""

import json
from decimal import Decimal

import pytest
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from drf_spectacular.validation import validate_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import InputSerializer, validated
from core.api.money_fields import (
    AmountField,
    CurrencyField,
    MetadataField,
    MetadataPatchField,
    PercentField,
)
from core.domain.money import MAX_AMOUNT
from core.errors import ValidationFailed
from coupons.api.serializers import DiscountInput, OrderInput
from coupons.domain.discounts import Discount


class CouponLike(InputSerializer):
    discount = DiscountInput(required=False, allow_null=True)
    metadata = MetadataField(required=False)


class CouponPatchLike(InputSerializer):
    metadata = MetadataPatchField(required=False)


class RedeemLike(InputSerializer):
    order = OrderInput(required=False)


class Fields(InputSerializer):
    percent = PercentField(required=False)
    amount = AmountField(required=False)
    currency = CurrencyField(required=False)


def body(text):
    """A request body as the API is to parse it: JSON numbers with a fraction as Decimal."""
    return json.loads(text, parse_float=Decimal)


def errors_of(serializer_class, data):
    with pytest.raises(ValidationFailed) as caught:
        validated(serializer_class, data)
    return caught.value.errors


# Percent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5", Decimal("12.50")),
        ("12.50", Decimal("12.50")),
        ("12.500", Decimal("12.50")),  # two decimals by value
        ("20", Decimal("20.00")),
        ("0.01", Decimal("0.01")),
        ("100", Decimal("100.00")),
        ("100.00", Decimal("100.00")),
        ("99.99", Decimal("99.99")),
        ("2e1", Decimal("20.00")),
    ],
)
def test_a_percentage_is_read_exactly_from_a_json_number(text, expected):
    value = validated(Fields, body(f'{{"percent": {text}}}'))["percent"]
    assert value == expected and str(value) == str(expected)


@pytest.mark.parametrize(
    "value",
    [
        12.5,  # a float: went through binary already
        "12.5",
        True,
        False,
        Decimal("12.345"),  # three decimals
        Decimal("0"),
        0,
        Decimal("-5"),
        Decimal("100.01"),
        101,
        Decimal("1E+400"),
        [],
        {},
    ],
)
def test_other_percentages_are_a_400_on_the_field(value):
    assert errors_of(Fields, {"percent": value}) == {
        "percent": ["Must be a number more than 0 and at most 100, with at most 2 decimals."]
    }


def test_a_percentage_is_returned_as_a_json_number():
    field = PercentField()
    assert field.to_representation(Decimal("12.50")) == 12.5
    assert json.dumps(field.to_representation(Decimal("20.00"))) == "20"


# Amount and currency


@pytest.mark.parametrize("value", [0, 1, 12999, MAX_AMOUNT])
def test_an_amount_is_an_integer_from_zero_to_the_maximum(value):
    assert validated(Fields, {"amount": value}) == {"amount": value}


@pytest.mark.parametrize("value", [-1, MAX_AMOUNT + 1, True, 1.0, Decimal(1), "100", None])
def test_other_amounts_are_a_400_on_the_field(value):
    assert set(errors_of(Fields, {"amount": value})) == {"amount"}


@pytest.mark.parametrize("value", ["EUR", "JPY", "KWD"])
def test_a_currency_is_an_iso_4217_code(value):
    assert validated(Fields, {"currency": value}) == {"currency": value}


@pytest.mark.parametrize("value", ["eur", "ZZZ", "XXX", " EUR", "EURO", "", 978])
def test_other_currencies_are_a_400_on_the_field(value):
    assert errors_of(Fields, {"currency": value}) == {
        "currency": ["Must be an ISO 4217 currency code in upper case, like EUR."]
    }


# Discount


def test_a_discount_comes_out_with_all_five_keys_ready_for_the_domain():
    data = body(
        '{"discount": {"percent_off": 12.5, "currency": "EUR", "max_amount_off": 5000,'
        ' "min_order_amount": 2000}}'
    )
    discount = validated(CouponLike, data)["discount"]

    assert discount == {
        "percent_off": Decimal("12.50"), "amount_off": None, "currency": "EUR",
        "max_amount_off": 5000, "min_order_amount": 2000,
        # The third part's targeting, unset.
        "applies_to": None, "excludes": None, "min_quantity": None, "allocation": None,
        "target": None, "buy_x_get_y": None, "combines_with": None,
    }  # fmt: skip
    assert Discount(**discount) == Discount(
        percent_off=Decimal("12.5"), currency="EUR", max_amount_off=5000, min_order_amount=2000
    )


def test_a_discount_may_be_null_and_nulls_inside_mean_not_set():
    assert validated(CouponLike, {"discount": None}) == {"discount": None}
    data = body('{"discount": {"percent_off": 20, "amount_off": null, "currency": null}}')
    assert validated(CouponLike, data)["discount"]["percent_off"] == Decimal(20)


@pytest.mark.parametrize(
    ("discount", "errors"),
    [
        ({"percent_off": 12.5}, {"discount.percent_off"}),  # a float
        ({"percent_off": Decimal("12.345")}, {"discount.percent_off"}),
        ({"percent_off": Decimal("12.5"), "currency": "eur"}, {"discount.currency"}),
        ({"amount_off": 500}, {"discount.currency"}),
        ({}, {"discount.percent_off", "discount.amount_off"}),
        ({"percent_off": 10, "amount_off": 500, "currency": "EUR"},
         {"discount.percent_off", "discount.amount_off"}),
        ({"amount_off": 500, "currency": "EUR", "max_amount_off": 100},
         {"discount.max_amount_off"}),
        ({"percent_off": 10, "min_order_amount": 100}, {"discount.currency"}),
        ({"percent_off": 10, "percnt_off": 10, "extra": 1},
         {"discount.percnt_off", "discount.extra"}),
        # Unknown keys are reported together with the field errors, not after them.
        ({"percent_off": "10", "extra": 1}, {"discount.percent_off", "discount.extra"}),
        ("20%", {"discount"}),
        ([], {"discount"}),
    ],
)  # fmt: skip
def test_a_bad_discount_is_a_400_naming_the_nested_fields(discount, errors):
    assert set(errors_of(CouponLike, {"discount": discount})) == errors


def test_an_unknown_key_in_a_discount_is_named():
    assert errors_of(CouponLike, {"discount": {"percent_off": 10, "kind": "x"}}) == {
        "discount.kind": ["Unknown field."]
    }


# Order


def test_an_order_is_an_amount_and_a_currency():
    assert validated(RedeemLike, {"order": {"amount": 12999, "currency": "EUR"}}) == {
        "order": {"amount": 12999, "currency": "EUR"}
    }


@pytest.mark.parametrize(
    ("order", "errors"),
    [
        ({"amount": 12999}, {"order.currency"}),
        ({"currency": "EUR"}, {"order.amount"}),
        ({}, {"order.amount", "order.currency"}),
        ({"amount": 12.99, "currency": "EUR"}, {"order.amount"}),
        ({"amount": -1, "currency": "EUR"}, {"order.amount"}),
        ({"amount": 100, "currency": "eur"}, {"order.currency"}),
        ({"amount": 100, "currency": "EUR", "tax": 19}, {"order.tax"}),
        (None, {"order"}),
    ],
)
def test_a_bad_order_is_a_400_naming_the_nested_fields(order, errors):
    assert set(errors_of(RedeemLike, {"order": order})) == errors


# Metadata


def test_metadata_is_a_json_object_of_strings():
    data = {"metadata": {"campaign": "spring", "note": ""}}
    assert validated(CouponLike, data) == data


def test_bad_metadata_is_a_400_naming_the_key():
    errors = errors_of(CouponLike, {"metadata": {"a": 1, "b": "ok", "c": "v" * 501, "": "x"}})
    assert errors == {
        "metadata": ["Key '': keys are 1 to 40 characters."],
        "metadata.a": ["Must be a string of at most 500 characters."],
        "metadata.c": ["Must be a string of at most 500 characters."],
    }


def test_metadata_that_is_not_an_object_is_a_400_on_metadata():
    assert errors_of(CouponLike, {"metadata": ["a"]}) == {"metadata": ["Must be a JSON object."]}
    assert set(errors_of(CouponLike, {"metadata": {f"k{i}": "v" for i in range(51)}})) == {
        "metadata"
    }


def test_null_removes_a_key_in_a_patch_only():
    assert validated(CouponPatchLike, {"metadata": {"a": None, "b": "x"}}) == {
        "metadata": {"a": None, "b": "x"}
    }
    assert set(errors_of(CouponLike, {"metadata": {"a": None}})) == {"metadata.a"}


# The OpenAPI document


class ProbeView(APIView):
    @extend_schema(request=CouponLike, responses={204: None})
    def post(self, request):  # pragma: no cover - only described
        return Response(status=204)

    @extend_schema(request=CouponPatchLike, responses={204: None})
    def patch(self, request):  # pragma: no cover - only described
        return Response(status=204)

    @extend_schema(request=RedeemLike, responses={204: None})
    def put(self, request):  # pragma: no cover - only described
        return Response(status=204)


def test_the_fields_state_their_bounds_in_a_valid_openapi_document():
    generator = SchemaGenerator(patterns=[path("probe/", ProbeView.as_view())])
    document = generator.get_schema(request=None, public=True)
    validate_schema(document)  # the OpenAPI 3.0 meta-schema
    schemas = document["components"]["schemas"]

    discount = schemas["DiscountInput"]
    assert discount["additionalProperties"] is False
    assert discount["properties"]["percent_off"] == {
        "type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 100,
        "multipleOf": 0.01, "example": 12.5, "nullable": True,
        "description": "A percentage, more than 0 and at most 100, with at most two decimals.",
    }  # fmt: skip
    assert discount["properties"]["amount_off"]["maximum"] == MAX_AMOUNT
    assert discount["properties"]["currency"]["allOf"] == [
        {"$ref": "#/components/schemas/CurrencyEnum"}
    ]
    assert "EUR" in schemas["CurrencyEnum"]["enum"]
    assert "XXX" not in schemas["CurrencyEnum"]["enum"]
    order = schemas["OrderInput"]
    assert order["required"] == ["currency"]  # amount: not with lines (the third part)
    assert order["additionalProperties"] is False
    metadata = schemas["CouponLike"]["properties"]["metadata"]
    assert metadata["maxProperties"] == 50
    assert metadata["additionalProperties"] == {"type": "string", "maxLength": 500}
    patch = schemas["PatchedCouponPatchLike"]["properties"]["metadata"]
    assert patch["additionalProperties"]["nullable"] is True
