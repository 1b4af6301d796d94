"""JSON numbers in and out: a fraction is read as a Decimal (never a float) and a Decimal
is written as a JSON number (never a string)."""

from decimal import Decimal

from django.test import RequestFactory

from core.api.http import read_json_object, to_json_bytes


def test_answers_write_decimals_as_json_numbers():
    data = {"a": Decimal("12.50"), "b": Decimal("20"), "c": Decimal("0.29"), "d": 7}
    assert to_json_bytes(data) == b'{"a":12.5,"b":20,"c":0.29,"d":7}'


def test_request_numbers_with_a_fraction_are_read_as_decimals():
    request = RequestFactory().post(
        "/", data=b'{"p": 0.29, "n": 3, "e": 2e1}', content_type="application/json"
    )
    body = read_json_object(request)
    assert body == {"p": Decimal("0.29"), "n": 3, "e": Decimal("2E+1")}
    assert type(body["n"]) is int
