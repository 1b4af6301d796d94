"""POST /v1/coupons/import/ through the ASGI app: all or none, every bad row by line and
column."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async

from coupons.models import Coupon
from coupons.services import campaigns as campaign_service
from events.models import Event
from tests.factories import amake_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

CONTRACT_EXAMPLE = """code,init_count,expires_at,per_customer_limit
SUMMER-A1,1,2027-01-01T00:00:00Z,
SUMMER-A2,5,,1
"""


async def post_csv(api, manage, body: str | bytes, *, content_type: str = "text/csv", **params):
    return await api.post(
        "/v1/coupons/import/", content=body, params=params,
        headers={**manage, "Content-Type": content_type},
    )  # fmt: skip


async def coupons_and_events() -> tuple[int, int]:
    count = await Coupon.objects.acount()
    events = await Event.objects.filter(type="coupon.created").acount()
    return count, events


async def test_the_contract_example_creates_its_two_codes(api, manage):
    response = await post_csv(api, manage, CONTRACT_EXAMPLE)

    assert response.status_code == 201, response.text
    assert response.json() == {"created": 2}
    a1 = await Coupon.objects.aget(code="SUMMER-A1")
    a2 = await Coupon.objects.aget(code="SUMMER-A2")
    assert (a1.init_count, a1.remaining_count, a1.per_customer_limit) == (1, 1, None)
    assert a1.expires_at == datetime(2027, 1, 1, tzinfo=UTC) and a1.is_active
    assert (a2.init_count, a2.remaining_count, a2.per_customer_limit) == (5, 5, 1)
    assert a2.expires_at is None and a2.campaign_id is None
    assert await coupons_and_events() == (2, 2)
    # Found through the API as any other code, ignoring case.
    listed = await api.get("/v1/coupons/", params={"code": "summer-a2"}, headers=manage)
    assert [c["code"] for c in listed.json()["results"]] == ["SUMMER-A2"]


async def test_codes_join_the_campaign_given_in_the_query(api, manage):
    campaign = await sync_to_async(campaign_service.create_campaign)(
        name="Old codes", discount={"percent_off": 10}
    )
    body = "code,init_count,is_active,starts_at\r\nOLD-1,3,false,2026-01-01T00:00:00+01:00\r\n"

    response = await post_csv(api, manage, body, campaign_id=str(campaign.pk))

    assert response.status_code == 201, response.text
    coupon = await Coupon.objects.aget(code="OLD-1")
    assert coupon.campaign_id == campaign.pk and coupon.is_active is False
    assert coupon.starts_at == datetime(2025, 12, 31, 23, tzinfo=UTC)


async def test_every_bad_row_is_listed_by_line_and_column_and_nothing_is_written(api, manage):
    await amake_coupon("TAKEN-1")
    before = await coupons_and_events()
    body = (
        "code,init_count,is_active,starts_at,expires_at,per_customer_limit\n"  # 1
        "GOOD-1,1,,,,\n"  # 2
        "BAD CODE,1,,,,\n"  # 3: a space
        "ÄPFEL,1,,,,\n"  # 4: outside the alphabet
        "GOOD-2,0,,,,\n"  # 5
        "GOOD-3,many,yes,,,\n"  # 6: two bad cells
        "GOOD-4,1,,2027-01-02T00:00:00Z,2027-01-01T00:00:00Z,\n"  # 7
        "good-1,1,,,,\n"  # 8: repeats line 2
        "taken-1,1,,,,\n"  # 9: exists already
        "GOOD-1,1,,,,\n"  # 10: repeats line 2 again
        "\n"  # 11: blank, skipped
        "GOOD-5,1,,,,0\n"  # 12
        "GOOD-6,1\n"  # 13: too few cells
        ",1,,,,\n"  # 14: no code
        "GOOD-7,1,,2027-01-01T00:00:00,,\n"  # 15: no offset
    )

    response = await post_csv(api, manage, body)

    problem = assert_problem(response, 400, "validation_error")
    errors = problem["errors"]
    assert set(errors) == {
        "3.code", "4.code", "5.init_count", "6.init_count", "6.is_active", "7.expires_at",
        "8.code", "9.code", "10.code", "12.per_customer_limit", "13.row", "14.code",
        "15.starts_at",
    }  # fmt: skip
    assert (
        errors["8.code"]
        == errors["10.code"]
        == ["Repeated: an earlier line of this file has this code (ignoring case)."]
    )
    assert errors["9.code"] == [
        "A coupon with this code already exists (codes are unique ignoring case)."
    ]
    assert "A-Z a-z 0-9" in errors["3.code"][0] and "A-Z a-z 0-9" in errors["4.code"][0]
    assert errors["6.is_active"] == ["Must be true or false."]
    assert await coupons_and_events() == before


async def test_a_header_with_an_unknown_column_or_without_a_required_one_is_refused(api, manage):
    response = await post_csv(api, manage, "code,colour,expires_at\nA-1,red,\n")

    errors = assert_problem(response, 400, "validation_error")["errors"]
    assert set(errors) == {"1.colour", "1.init_count"}
    assert await Coupon.objects.acount() == 0


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("", "1.code"),
        ("code,init_count\n", "2.row"),
        ("code,init_count\n\n\n", "2.row"),
        ('code,init_count\n"A-1,1\n', "2.row"),  # an unclosed quote
    ],
)
async def test_a_file_without_rows_is_refused(api, manage, body, key):
    response = await post_csv(api, manage, body)

    assert key in assert_problem(response, 400, "validation_error")["errors"]


async def test_more_than_10000_rows_is_refused_whole(api, manage):
    body = "code,init_count\n" + "".join(f"C{n},1\n" for n in range(10_001))

    response = await post_csv(api, manage, body)

    errors = assert_problem(response, 400, "validation_error")["errors"]
    assert list(errors) == ["10002.row"]
    assert await Coupon.objects.acount() == 0


async def test_10000_rows_are_imported(api, manage):
    body = "code,init_count\n" + "".join(f"C{n},1\n" for n in range(10_000))

    response = await post_csv(api, manage, body)

    assert response.status_code == 201 and response.json() == {"created": 10_000}
    assert await coupons_and_events() == (10_000, 10_000)


async def test_another_content_type_is_a_415(api, manage):
    response = await post_csv(api, manage, '{"code": "A"}', content_type="application/json")

    assert_problem(response, 415, "unsupported_media_type")


async def test_a_body_that_is_not_utf8_is_a_400(api, manage):
    response = await post_csv(api, manage, "code,init_count\nCAFÉ,1\n".encode("latin-1"))

    assert list(assert_problem(response, 400, "validation_error")["errors"]) == ["body"]


async def test_a_byte_order_mark_and_crlf_lines_are_fine(api, manage):
    body = "\ufeffcode,init_count\r\nBOM-1,2\r\n".encode()

    response = await post_csv(api, manage, body, content_type="text/csv; charset=utf-8")

    assert response.status_code == 201, response.text
    assert (await Coupon.objects.aget(code="BOM-1")).init_count == 2


@pytest.mark.parametrize(
    ("params", "key"),
    [({"campaign_id": "nope"}, "campaign_id"), ({"campaign_id": str(uuid.uuid4())}, "campaign_id"),
     ({"prefix": "X"}, "prefix")],
)  # fmt: skip
async def test_bad_query_parameters_are_400s(api, manage, params, key):
    response = await post_csv(api, manage, CONTRACT_EXAMPLE, **params)

    assert list(assert_problem(response, 400, "validation_error")["errors"]) == [key]
    assert await Coupon.objects.acount() == 0


async def test_a_redeem_key_may_not_import(api, redeem):
    response = await post_csv(api, redeem, CONTRACT_EXAMPLE)

    assert_problem(response, 403, "permission_denied")
