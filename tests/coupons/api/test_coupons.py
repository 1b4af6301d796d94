"""POST /v1/coupons/ and GET /v1/coupons/{id}/ through the whole ASGI stack."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction

from coupons.models import Coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


async def coupon_count() -> int:
    return await Coupon.objects.acount()


async def test_the_seed_scenario_creates_a_coupon_with_all_its_uses_left(api, manage):
    response = await api.post(
        "/v1/coupons/", json={"code": "PIOTR", "init_count": 100}, headers=manage
    )

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == "PIOTR"
    assert body["init_count"] == 100
    assert body["remaining_count"] == 100
    assert body["is_active"] is True
    assert body["starts_at"] is None and body["expires_at"] is None
    assert body["per_customer_limit"] is None
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")
    assert uuid.UUID(body["id"])
    # v1's second part: answers only gain fields, empty for a coupon made as in the seed.
    assert body["discount"] is None and body["metadata"] == {}
    assert body["campaign_id"] is None
    assert set(body) >= {
        "id", "code", "init_count", "remaining_count", "held_count", "is_active", "starts_at",
        "expires_at", "per_customer_limit", "created_at", "updated_at", "discount", "metadata",
        "campaign_id",
    }  # fmt: skip
    assert response.headers["location"].endswith(f"/v1/coupons/{body['id']}/")


async def test_a_created_coupon_is_fetched_by_its_location(api, manage):
    created = await api.post(
        "/v1/coupons/",
        json={
            "code": "Summer-2026_a",
            "init_count": 5,
            "is_active": False,
            "starts_at": "2026-06-01T00:00:00+02:00",
            "expires_at": "2026-09-01T00:00:00Z",
            "per_customer_limit": 2,
        },
        headers=manage,
    )
    assert created.status_code == 201, created.text

    fetched = await api.get(created.headers["location"], headers=manage)

    assert fetched.status_code == 200
    assert fetched.json() == created.json()
    body = fetched.json()
    assert body["code"] == "Summer-2026_a"  # returned exactly as created
    assert body["starts_at"] == "2026-05-31T22:00:00Z"  # normalised to UTC
    assert body["is_active"] is False
    assert body["per_customer_limit"] == 2


async def test_an_id_in_upper_case_finds_the_same_coupon(api, manage):
    created = (
        await api.post("/v1/coupons/", json={"code": "UP", "init_count": 1}, headers=manage)
    ).json()

    response = await api.get(f"/v1/coupons/{created['id'].upper()}/", headers=manage)

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]


async def test_remaining_count_sent_on_create_is_ignored(api, manage):
    response = await api.post(
        "/v1/coupons/", json={"code": "IGN", "init_count": 10, "remaining_count": 3}, headers=manage
    )
    assert response.status_code == 201
    assert response.json()["remaining_count"] == 10


@pytest.mark.parametrize("second_code", ["PIOTR", "piotr", "PiOtR"])
async def test_a_duplicate_code_ignoring_case_is_409_and_changes_nothing(api, manage, second_code):
    first = await api.post("/v1/coupons/", json={"code": "PIOTR", "init_count": 1}, headers=manage)
    assert first.status_code == 201

    second = await api.post(
        "/v1/coupons/", json={"code": second_code, "init_count": 7}, headers=manage
    )

    assert_problem(second, 409, "duplicate_code")
    assert await coupon_count() == 1
    kept = await api.get(first.headers["location"], headers=manage)
    assert kept.json()["init_count"] == 1


@pytest.mark.postgres
async def test_concurrent_creates_of_one_code_make_exactly_one_coupon(api, manage):
    responses = await asyncio.gather(
        *[
            api.post(
                "/v1/coupons/",
                json={"code": "RACE" if i % 2 else "race", "init_count": 1},
                headers=manage,
            )
            for i in range(20)
        ]
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1
    assert statuses.count(409) == 19
    assert await coupon_count() == 1


INVALID_BODIES = [
    ({"init_count": 1}, "code"),
    ({"code": "A"}, "init_count"),
    ({"code": "", "init_count": 1}, "code"),
    ({"code": "-leading-dash", "init_count": 1}, "code"),
    ({"code": "_leading", "init_count": 1}, "code"),
    ({"code": "has space", "init_count": 1}, "code"),
    ({"code": "ünicode", "init_count": 1}, "code"),
    ({"code": "A" * 65, "init_count": 1}, "code"),
    ({"code": 12345, "init_count": 1}, "code"),
    ({"code": None, "init_count": 1}, "code"),
    ({"code": "A", "init_count": 0}, "init_count"),
    ({"code": "A", "init_count": -5}, "init_count"),
    ({"code": "A", "init_count": 1_000_000_001}, "init_count"),
    ({"code": "A", "init_count": "10"}, "init_count"),
    ({"code": "A", "init_count": 1.5}, "init_count"),
    ({"code": "A", "init_count": True}, "init_count"),
    ({"code": "A", "init_count": 10**30}, "init_count"),
    ({"code": "A", "init_count": 1, "is_active": "yes"}, "is_active"),
    ({"code": "A", "init_count": 1, "starts_at": "tomorrow"}, "starts_at"),
    ({"code": "A", "init_count": 1, "starts_at": "2026-01-01T00:00:00"}, "starts_at"),
    ({"code": "A", "init_count": 1, "expires_at": 1700000000}, "expires_at"),
    (
        {
            "code": "A",
            "init_count": 1,
            "starts_at": "2026-02-01T00:00:00Z",
            "expires_at": "2026-01-01T00:00:00Z",
        },
        "expires_at",
    ),
    (
        {
            "code": "A",
            "init_count": 1,
            "starts_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-01T00:00:00Z",
        },
        "expires_at",
    ),
    ({"code": "A", "init_count": 1, "per_customer_limit": 0}, "per_customer_limit"),
    ({"code": "A", "init_count": 1, "per_customer_limit": "2"}, "per_customer_limit"),
]


@pytest.mark.parametrize(("body", "field"), INVALID_BODIES)
async def test_invalid_coupon_fields_are_400_naming_the_field_and_create_nothing(
    api, manage, body, field
):
    response = await api.post("/v1/coupons/", json=body, headers=manage)

    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"], problem
    assert all(isinstance(m, str) for m in problem["errors"][field])
    assert await coupon_count() == 0


@pytest.mark.parametrize("code", ["A", "a", "7", "Z" * 64, "x-Y_9", "XMAS-ABC123"])
async def test_every_allowed_code_shape_is_accepted(api, manage, code):
    response = await api.post("/v1/coupons/", json={"code": code, "init_count": 1}, headers=manage)
    assert response.status_code == 201, response.text
    assert response.json()["code"] == code


async def test_an_unknown_id_is_404_not_found(api, manage):
    response = await api.get(f"/v1/coupons/{uuid.uuid4()}/", headers=manage)
    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(
    "bad_id", ["abc", "123", "6f1c", "00000000-0000-0000-0000-00000000000g", "%20"]
)
async def test_a_malformed_id_is_404_problem(api, manage, bad_id):
    response = await api.get(f"/v1/coupons/{bad_id}/", headers=manage)
    assert_problem(response, 404, "not_found")


@sync_to_async
def insert_raw(**fields: object) -> None:
    with transaction.atomic():
        Coupon.objects.create(**fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"code": "NEG", "init_count": 5, "remaining_count": -1},
        {"code": "OVER", "init_count": 5, "remaining_count": 6},
        {"code": "ZERO", "init_count": 0, "remaining_count": 0},
        {"code": "LIM", "init_count": 5, "remaining_count": 5, "per_customer_limit": 0},
    ],
)
async def test_the_database_itself_refuses_impossible_counts(api, fields):
    with pytest.raises(IntegrityError):
        await insert_raw(**fields)


async def test_the_database_refuses_a_second_code_differing_only_in_case(api):
    await insert_raw(code="Case", init_count=1, remaining_count=1)
    with pytest.raises(IntegrityError):
        await insert_raw(code="cASE", init_count=1, remaining_count=1)


async def test_create_and_get_are_not_allowed_other_methods(api, manage):
    response = await api.put(f"/v1/coupons/{uuid.uuid4()}/", json={}, headers=manage)
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
