"""POST/GET /v1/redemptions/, revert, and the coupon's redemption list, through the ASGI app."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from coupons.models import Redemption
from tests.factories import acoupon_state, amake_coupon, broken_invariants
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

# What a validation answer gained in v1's second part, all null without a discount.
NO_AMOUNTS = {"discount_amount": None, "amount_after_discount": None, "currency": None,
              "details": None, "allocations": None, "shipping_discount_amount": None,
              "shipping_amount_after_discount": None}  # fmt: skip


async def redemption_count() -> int:
    return await Redemption.objects.acount()


async def test_a_code_typed_in_any_case_redeems_its_coupon(api, redeem):
    coupon = await amake_coupon("Piotr-2026", init_count=10)

    response = await api.post(
        "/v1/redemptions/",
        json={"code": "PIOTR-2026", "customer_id": "c-42", "order_id": "o-1001"},
        headers=redeem,
    )

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {
        "id", "coupon_id", "code", "customer_id", "order_id", "remaining_count",
        "redeemed_at", "reverted_at", "order_amount", "currency", "discount_amount", "metadata",
        "order", "allocations", "shipping_discount_amount", "group_id",
    }  # fmt: skip
    assert body["order_amount"] is None and body["currency"] is None
    assert body["discount_amount"] is None and body["metadata"] == {}
    assert body["coupon_id"] == str(coupon.id)
    assert body["code"] == "Piotr-2026"  # as created, not as typed
    assert body["customer_id"] == "c-42" and body["order_id"] == "o-1001"
    assert body["remaining_count"] == 9
    assert body["redeemed_at"].endswith("Z") and body["reverted_at"] is None
    assert response.headers["location"].endswith(f"/v1/redemptions/{body['id']}/")
    assert await acoupon_state(coupon.id) == (10, 9, 1)


async def test_each_redemption_answers_the_count_right_after_it(api, redeem):
    await amake_coupon("THREE", init_count=3)

    counts = []
    for _ in range(3):
        response = await api.post("/v1/redemptions/", json={"code": "three"}, headers=redeem)
        assert response.status_code == 201, response.text
        counts.append(response.json()["remaining_count"])

    assert counts == [2, 1, 0]
    exhausted = await api.post("/v1/redemptions/", json={"code": "THREE"}, headers=redeem)
    assert_problem(exhausted, 409, "coupon_exhausted")


async def test_a_redemption_is_fetched_by_its_id(api, redeem):
    await amake_coupon("FETCHME", init_count=2)
    created = (await api.post("/v1/redemptions/", json={"code": "FETCHME"}, headers=redeem)).json()

    fetched = await api.get(f"/v1/redemptions/{created['id']}/", headers=redeem)

    assert fetched.status_code == 200
    assert fetched.json() == created


@pytest.mark.parametrize("redemption_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_an_unknown_or_malformed_redemption_id_is_not_found(api, redeem, redemption_id):
    response = await api.get(f"/v1/redemptions/{redemption_id}/", headers=redeem)
    assert_problem(response, 404, "not_found")


def in_hours(hours: float):
    return timezone.now() + timedelta(hours=hours)


REFUSALS = [
    pytest.param(
        {"init_count": 1, "remaining_used": 1}, {}, 409, "coupon_exhausted", id="exhausted"
    ),
    pytest.param({"is_active": False}, {}, 409, "coupon_inactive", id="inactive"),
    pytest.param({"starts_at": "+1"}, {}, 409, "coupon_not_started", id="not-started"),
    pytest.param({"expires_at": "-1"}, {}, 409, "coupon_expired", id="expired"),
    pytest.param(
        {"per_customer_limit": 1}, {}, 400, "customer_id_required", id="customer-id-required"
    ),
    pytest.param(
        {"per_customer_limit": 1, "remaining_used": 1},
        {"customer_id": "c-1"},
        409,
        "customer_limit_reached",
        id="customer-limit",
    ),
]


async def refused_coupon(api, redeem, fields):
    fields = dict(fields)
    used = fields.pop("remaining_used", 0)
    fields.setdefault("init_count", 5)
    if fields.get("starts_at") == "+1":
        fields["starts_at"] = in_hours(1)
    if fields.get("expires_at") == "-1":
        fields["starts_at"], fields["expires_at"] = in_hours(-2), in_hours(-1)
    code = f"REFUSE-{uuid.uuid4().hex[:8]}"
    coupon = await amake_coupon(code, **fields)
    for _ in range(used):
        response = await api.post(
            "/v1/redemptions/", json={"code": code, "customer_id": "c-1"}, headers=redeem
        )
        assert response.status_code == 201, response.text
    return coupon


@pytest.mark.parametrize(("fields", "extra", "status", "code"), REFUSALS)
async def test_every_refusal_has_its_code_and_changes_nothing(
    api, redeem, fields, extra, status, code
):
    coupon = await refused_coupon(api, redeem, fields)
    before = await acoupon_state(coupon.id)
    rows_before = await redemption_count()

    response = await api.post(
        "/v1/redemptions/", json={"code": coupon.code.lower(), **extra}, headers=redeem
    )

    assert_problem(response, status, code)
    assert await acoupon_state(coupon.id) == before
    assert await redemption_count() == rows_before
    assert await sync_to_async(broken_invariants)() == []


@pytest.mark.parametrize(("fields", "extra", "status", "code"), REFUSALS)
async def test_a_validation_gives_the_same_reason_and_spends_nothing(
    api, redeem, fields, extra, status, code
):
    coupon = await refused_coupon(api, redeem, fields)
    before = await acoupon_state(coupon.id)

    response = await api.post(
        "/v1/validations/", json={"code": coupon.code, **extra}, headers=redeem
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "valid": False,
        "reason": code,
        "remaining_count": before[1],
        **NO_AMOUNTS,
    }
    assert await acoupon_state(coupon.id) == before


async def test_an_unknown_code_is_coupon_not_found(api, redeem):
    response = await api.post("/v1/redemptions/", json={"code": "NOPE"}, headers=redeem)
    assert_problem(response, 404, "coupon_not_found")
    assert await redemption_count() == 0

    validation = await api.post("/v1/validations/", json={"code": "NOPE"}, headers=redeem)
    assert validation.json() == {
        "valid": False,
        "reason": "coupon_not_found",
        "remaining_count": None,
        **NO_AMOUNTS,
    }


async def test_a_valid_code_validates_with_its_remaining_count_and_spends_nothing(api, redeem):
    coupon = await amake_coupon("VALID", init_count=4)

    response = await api.post("/v1/validations/", json={"code": "valid"}, headers=redeem)

    assert response.status_code == 200
    assert response.json() == {"valid": True, "reason": None, "remaining_count": 4, **NO_AMOUNTS}
    assert await acoupon_state(coupon.id) == (4, 4, 0)


async def test_a_window_that_is_open_now_lets_the_coupon_be_redeemed(api, redeem):
    await amake_coupon("OPEN", init_count=1, starts_at=in_hours(-1), expires_at=in_hours(1))
    response = await api.post("/v1/redemptions/", json={"code": "OPEN"}, headers=redeem)
    assert response.status_code == 201, response.text


async def test_a_customer_holds_at_most_the_per_customer_limit(api, redeem):
    coupon = await amake_coupon("TWICE", init_count=10, per_customer_limit=2)

    async def redeem_as(customer: str):
        return await api.post(
            "/v1/redemptions/", json={"code": "TWICE", "customer_id": customer}, headers=redeem
        )

    first, second = await redeem_as("alice"), await redeem_as("alice")
    assert first.status_code == second.status_code == 201
    assert_problem(await redeem_as("alice"), 409, "customer_limit_reached")
    assert (await redeem_as("bob")).status_code == 201
    assert await acoupon_state(coupon.id) == (10, 7, 3)

    # A reverted redemption no longer counts against the customer.
    reverted = await api.post(f"/v1/redemptions/{first.json()['id']}/revert/", headers=redeem)
    assert reverted.status_code == 200, reverted.text
    assert (await redeem_as("alice")).status_code == 201
    assert await acoupon_state(coupon.id) == (10, 7, 3)


async def test_a_revert_gives_the_use_back_exactly_once(api, redeem):
    coupon = await amake_coupon("BACK", init_count=1)
    redemption = (await api.post("/v1/redemptions/", json={"code": "BACK"}, headers=redeem)).json()
    assert await acoupon_state(coupon.id) == (1, 0, 1)

    reverted = await api.post(f"/v1/redemptions/{redemption['id']}/revert/", headers=redeem)

    assert reverted.status_code == 200, reverted.text
    body = reverted.json()
    assert body["id"] == redemption["id"]
    assert body["reverted_at"] is not None and body["reverted_at"].endswith("Z")
    assert await acoupon_state(coupon.id) == (1, 1, 0)

    again = await api.post(f"/v1/redemptions/{redemption['id']}/revert/", headers=redeem)
    assert_problem(again, 409, "already_reverted")
    assert await acoupon_state(coupon.id) == (1, 1, 0)

    fetched = await api.get(f"/v1/redemptions/{redemption['id']}/", headers=redeem)
    assert fetched.json()["reverted_at"] == body["reverted_at"]

    # The use given back can be spent again.
    assert (
        await api.post("/v1/redemptions/", json={"code": "back"}, headers=redeem)
    ).status_code == 201


@pytest.mark.parametrize("redemption_id", [str(uuid.uuid4()), "nope"])
async def test_reverting_an_unknown_redemption_is_not_found(api, redeem, redemption_id):
    response = await api.post(f"/v1/redemptions/{redemption_id}/revert/", headers=redeem)
    assert_problem(response, 404, "not_found")


BAD_BODIES = [
    ({}, "code"),
    ({"code": ""}, "code"),
    ({"code": 42}, "code"),
    ({"code": None}, "code"),
    ({"code": "X", "customer_id": "c" * 129}, "customer_id"),
    ({"code": "X", "customer_id": 7}, "customer_id"),
    ({"code": "X", "customer_id": "c" + " " * 128}, "customer_id"),  # limit is on what is sent
]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [("/v1/redemptions/", body, field) for body, field in BAD_BODIES]
    + [("/v1/redemptions/", {"code": "X", "order_id": "o" * 129}, "order_id")]
    + [("/v1/validations/", body, field) for body, field in BAD_BODIES],
)
async def test_bad_redemption_input_is_a_validation_error_that_changes_nothing(
    api, redeem, path, body, field
):
    coupon = await amake_coupon("X", init_count=3)

    response = await api.post(path, json=body, headers=redeem)

    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"]
    assert await acoupon_state(coupon.id) == (3, 3, 0)


async def test_malformed_json_to_a_redemption_is_refused(api, redeem):
    response = await api.post(
        "/v1/redemptions/",
        content=b'{"code": ',
        headers={**redeem, "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "malformed_json")


async def test_a_redeem_key_redeems_but_cannot_list_or_manage(api, redeem, manage):
    await amake_coupon("SCOPE", init_count=5)
    assert (
        await api.post("/v1/redemptions/", json={"code": "SCOPE"}, headers=redeem)
    ).status_code == 201
    assert (
        await api.post("/v1/validations/", json={"code": "SCOPE"}, headers=redeem)
    ).status_code == 200

    assert_problem(await api.get("/v1/redemptions/", headers=redeem), 403, "permission_denied")
    assert (await api.get("/v1/redemptions/", headers=manage)).status_code == 200
    # A manage key may do everything, redeeming included.
    assert (
        await api.post("/v1/redemptions/", json={"code": "SCOPE"}, headers=manage)
    ).status_code == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/redemptions/"),
        ("GET", "/v1/redemptions/"),
        ("POST", "/v1/validations/"),
        ("GET", f"/v1/redemptions/{uuid.uuid4()}/"),
        ("POST", f"/v1/redemptions/{uuid.uuid4()}/revert/"),
        ("GET", f"/v1/coupons/{uuid.uuid4()}/redemptions/"),
    ],
)
async def test_redemption_endpoints_need_a_key(api, method, path):
    response = await api.request(method, path, json={"code": "X"})
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
