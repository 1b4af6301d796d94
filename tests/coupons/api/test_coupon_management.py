"""GET /v1/coupons/ (filters, pages), PATCH, DELETE and POST /v1/coupons/batch/."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async

from coupons.models import Coupon
from tests.factories import acoupon_state, amake_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


async def all_pages(api, headers, url: str) -> list[dict]:
    seen: list[dict] = []
    while url:
        response = await api.get(url, headers=headers)
        assert response.status_code == 200, response.text
        seen.extend(response.json()["results"])
        url = response.json()["next"]
    return seen


async def codes(api, headers, query: str = "") -> list[str]:
    return [c["code"] for c in await all_pages(api, headers, f"/v1/coupons/?{query}")]


# Listing


async def test_coupons_are_listed_newest_first(api, manage):
    for code in ["A1", "B2", "C3"]:
        await amake_coupon(code)

    response = await api.get("/v1/coupons/", headers=manage)

    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"results", "next", "previous"}
    assert [c["code"] for c in page["results"]] == ["C3", "B2", "A1"]
    assert page["next"] is None and page["previous"] is None
    assert set(page["results"][0]) >= {"id", "remaining_count", "created_at"}


async def test_coupon_pages_are_stable_while_coupons_are_created(api, manage):
    made = [(await amake_coupon(f"P{i}")).code for i in range(7)]

    first = (await api.get("/v1/coupons/?page_size=3", headers=manage)).json()
    for i in range(3):
        await amake_coupon(f"NEW{i}")
    rest = await all_pages(api, manage, first["next"])

    assert [c["code"] for c in first["results"] + rest] == made[::-1]
    second = (await api.get(first["next"], headers=manage)).json()
    back = (await api.get(second["previous"], headers=manage)).json()
    assert [c["code"] for c in back["results"]] == made[::-1][:3]


async def test_coupons_are_filtered(api, manage, redeem):
    await amake_coupon("XMAS-AAA", init_count=1)
    await amake_coupon("xmas-bbb", init_count=5, is_active=False)
    await amake_coupon("EASTER-1", init_count=2)
    used = await api.post("/v1/redemptions/", json={"code": "XMAS-AAA"}, headers=redeem)
    assert used.status_code == 201

    assert await codes(api, manage, "code=xmas-aaa") == ["XMAS-AAA"]
    assert await codes(api, manage, "code_prefix=XMAS-") == ["xmas-bbb", "XMAS-AAA"]
    assert await codes(api, manage, "code_prefix=xm") == ["xmas-bbb", "XMAS-AAA"]
    assert await codes(api, manage, "is_active=false") == ["xmas-bbb"]
    assert await codes(api, manage, "is_active=true") == ["EASTER-1", "XMAS-AAA"]
    assert await codes(api, manage, "exhausted=true") == ["XMAS-AAA"]
    assert await codes(api, manage, "exhausted=false") == ["EASTER-1", "xmas-bbb"]
    assert await codes(api, manage, "code_prefix=xmas&exhausted=false") == ["xmas-bbb"]
    assert await codes(api, manage, "code_prefix=NONE") == []


async def test_a_code_prefix_with_like_wildcards_matches_them_literally(api, manage):
    await amake_coupon("A_B")
    await amake_coupon("AXB")

    assert await codes(api, manage, "code_prefix=A_") == ["A_B"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("is_active=yes", "is_active"),
        ("is_active=", "is_active"),
        ("exhausted=1", "exhausted"),
        ("code=", "code"),
        ("code_prefix=", "code_prefix"),
        ("page_size=0", "page_size"),
        ("page_size=501", "page_size"),
        ("page_size=-1", "page_size"),
        ("cursor=abc", "cursor"),
        ("is_activ=true", "is_activ"),
        ("is_active=true&is_active=false", "is_active"),
    ],
)
async def test_bad_filters_are_a_400_not_ignored(api, manage, query, field):
    response = await api.get(f"/v1/coupons/?{query}", headers=manage)
    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"]


async def test_listing_needs_the_manage_scope(api, redeem):
    assert_problem(await api.get("/v1/coupons/", headers=redeem), 403, "permission_denied")


# Editing


async def test_editable_fields_are_changed(api, manage):
    coupon = await amake_coupon("EDIT", init_count=5)

    response = await api.patch(
        f"/v1/coupons/{coupon.id}/",
        json={
            "is_active": False,
            "starts_at": "2026-01-01T00:00:00Z",
            "expires_at": "2027-01-01T00:00:00+01:00",
            "per_customer_limit": 3,
        },
        headers=manage,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["is_active"] is False
    assert body["starts_at"] == "2026-01-01T00:00:00Z"
    assert body["expires_at"] == "2026-12-31T23:00:00Z"
    assert body["per_customer_limit"] == 3
    assert body["updated_at"] >= body["created_at"]
    fetched = (await api.get(f"/v1/coupons/{coupon.id}/", headers=manage)).json()
    assert fetched == body

    cleared = await api.patch(
        f"/v1/coupons/{coupon.id}/",
        json={"per_customer_limit": None, "starts_at": None},
        headers=manage,
    )
    assert cleared.json()["per_customer_limit"] is None and cleared.json()["starts_at"] is None


async def test_a_new_init_count_moves_the_remaining_count_by_the_same_delta(api, manage, redeem):
    coupon = await amake_coupon("GROW", init_count=5)
    for _ in range(3):
        await api.post("/v1/redemptions/", json={"code": "GROW"}, headers=redeem)

    grown = await api.patch(f"/v1/coupons/{coupon.id}/", json={"init_count": 8}, headers=manage)
    assert grown.status_code == 200
    assert (grown.json()["init_count"], grown.json()["remaining_count"]) == (8, 5)

    shrunk = await api.patch(f"/v1/coupons/{coupon.id}/", json={"init_count": 3}, headers=manage)
    assert (shrunk.json()["init_count"], shrunk.json()["remaining_count"]) == (3, 0)

    below = await api.patch(f"/v1/coupons/{coupon.id}/", json={"init_count": 2}, headers=manage)
    assert_problem(below, 409, "count_below_used")
    assert await acoupon_state(coupon.id) == (3, 0, 3)


async def test_shrinking_races_redemptions_without_losing_one(api, manage, redeem):
    coupon = await amake_coupon("RACY", init_count=40)

    answers = await asyncio.gather(
        *(api.post("/v1/redemptions/", json={"code": "RACY"}, headers=redeem) for _ in range(30)),
        *(
            api.patch(f"/v1/coupons/{coupon.id}/", json={"init_count": n}, headers=manage)
            for n in (35, 25, 45, 20)
        ),
    )

    assert all(a.status_code in (200, 201, 409) for a in answers), [a.text for a in answers]
    init, remaining, live = await acoupon_state(coupon.id)
    assert init - remaining == live
    assert live == sum(a.status_code == 201 for a in answers[:30])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "NEW"}, "code"),
        ({"remaining_count": 3}, "remaining_count"),
        ({"init_count": 0}, "init_count"),
        ({"init_count": "5"}, "init_count"),
        ({"is_active": None}, "is_active"),
        ({"per_customer_limit": 0}, "per_customer_limit"),
        ({"starts_at": "2026-01-01T00:00:00"}, "starts_at"),
        ({"starts_at": "2027-01-01T00:00:00Z", "expires_at": "2026-01-01T00:00:00Z"}, "expires_at"),
        ({"colour": "red"}, "colour"),
        ({"code": "NEW", "init_count": "x"}, "code"),
    ],
)
async def test_bad_edits_are_refused_and_change_nothing(api, manage, body, field):
    coupon = await amake_coupon("STAY", init_count=5)
    before = (await api.get(f"/v1/coupons/{coupon.id}/", headers=manage)).json()

    response = await api.patch(f"/v1/coupons/{coupon.id}/", json=body, headers=manage)

    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"]
    assert (await api.get(f"/v1/coupons/{coupon.id}/", headers=manage)).json() == before


async def test_a_window_edit_that_crosses_the_stored_start_is_a_400(api, manage):
    coupon = await amake_coupon("WINDOW", starts_at=datetime(2026, 6, 1, tzinfo=UTC))

    response = await api.patch(
        f"/v1/coupons/{coupon.id}/", json={"expires_at": "2026-05-01T00:00:00Z"}, headers=manage
    )

    problem = assert_problem(response, 400, "validation_error")
    assert "expires_at" in problem["errors"]


async def test_an_empty_edit_changes_nothing(api, manage):
    coupon = await amake_coupon("SAME")
    before = (await api.get(f"/v1/coupons/{coupon.id}/", headers=manage)).json()
    response = await api.patch(f"/v1/coupons/{coupon.id}/", json={}, headers=manage)
    assert response.status_code == 200 and response.json() == before


@pytest.mark.parametrize("coupon_id", [str(uuid.uuid4()), "nope"])
async def test_editing_or_deleting_an_unknown_coupon_is_not_found(api, manage, coupon_id):
    patched = await api.patch(f"/v1/coupons/{coupon_id}/", json={"is_active": True}, headers=manage)
    assert_problem(patched, 404, "not_found")
    assert_problem(await api.delete(f"/v1/coupons/{coupon_id}/", headers=manage), 404, "not_found")


# Deleting


async def test_a_coupon_never_redeemed_is_deleted(api, manage):
    coupon = await amake_coupon("BYE")

    response = await api.delete(f"/v1/coupons/{coupon.id}/", headers=manage)

    assert response.status_code == 204 and response.content == b""
    assert_problem(await api.get(f"/v1/coupons/{coupon.id}/", headers=manage), 404, "not_found")


async def test_a_redeemed_coupon_keeps_its_history(api, manage, redeem):
    coupon = await amake_coupon("KEPT", init_count=2)
    redemption = (await api.post("/v1/redemptions/", json={"code": "KEPT"}, headers=redeem)).json()
    # Even a reverted redemption is history.
    await api.post(f"/v1/redemptions/{redemption['id']}/revert/", headers=redeem)

    response = await api.delete(f"/v1/coupons/{coupon.id}/", headers=manage)

    assert_problem(response, 409, "has_redemptions")
    assert await acoupon_state(coupon.id) == (2, 2, 0)


# Batches

CODE = re.compile(r"^XMAS-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}$")


async def test_a_batch_creates_unique_random_codes_with_the_fields_given(api, manage):
    response = await api.post(
        "/v1/coupons/batch/",
        json={
            "count": 2500,
            "init_count": 3,
            "prefix": "XMAS-",
            "length": 8,
            "expires_at": "2026-12-27T00:00:00Z",
            "per_customer_limit": 1,
        },
        headers=manage,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] == 2500 == len(body["codes"]) == len(set(body["codes"]))
    assert all(CODE.match(code) for code in body["codes"])
    stored = await sync_to_async(list)(
        Coupon.objects.filter(code__in=body["codes"]).values_list(
            "init_count", "remaining_count", "per_customer_limit", "expires_at"
        )
    )
    assert len(stored) == 2500
    assert {row[:3] for row in stored} == {(3, 3, 1)}
    assert {row[3].isoformat() for row in stored} == {"2026-12-27T00:00:00+00:00"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 10001}, "count"),
        ({"init_count": 0}, "init_count"),
        ({"length": 5}, "length"),
        ({"length": 33}, "length"),
        ({"prefix": "-X"}, "prefix"),
        ({"prefix": "A B"}, "prefix"),
        ({"prefix": "P" * 40, "length": 30}, "length"),
        ({"count": "10"}, "count"),
        ({"starts_at": "2027-01-01T00:00:00Z", "expires_at": "2026-01-01T00:00:00Z"}, "expires_at"),
    ],
)
async def test_a_bad_batch_is_refused_and_creates_nothing(api, manage, body, field):
    request = {"count": 5, "init_count": 1, "prefix": "OK-", "length": 8, **body}
    response = await api.post("/v1/coupons/batch/", json=request, headers=manage)
    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"]
    assert await Coupon.objects.acount() == 0


async def test_a_batch_without_a_prefix_is_just_random_codes(api, manage):
    response = await api.post(
        "/v1/coupons/batch/", json={"count": 3, "init_count": 1, "length": 6}, headers=manage
    )
    assert response.status_code == 201
    assert all(re.fullmatch(r"[A-HJKMNP-Z2-9]{6}", c) for c in response.json()["codes"])
