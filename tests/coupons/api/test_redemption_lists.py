"""GET /v1/redemptions/ and /v1/coupons/{id}/redemptions/: filters and cursor pages."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import amake_coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


async def redeem_n(api, headers, code: str, n: int, **fields) -> list[dict]:
    made = []
    for _ in range(n):
        response = await api.post(
            "/v1/redemptions/", json={"code": code, **fields}, headers=headers
        )
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


async def all_pages(api, headers, url: str) -> list[dict]:
    seen: list[dict] = []
    while url:
        response = await api.get(url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        seen.extend(page["results"])
        url = page["next"]
    return seen


async def test_redemptions_are_listed_newest_first_in_cursor_pages(api, manage):
    await amake_coupon("LIST", init_count=20)
    made = await redeem_n(api, manage, "LIST", 7)

    first = (await api.get("/v1/redemptions/?page_size=3", headers=manage)).json()
    assert [r["id"] for r in first["results"]] == [r["id"] for r in made[::-1][:3]]
    assert first["previous"] is None and first["next"]

    everything = await all_pages(api, manage, "/v1/redemptions/?page_size=3")
    assert [r["id"] for r in everything] == [r["id"] for r in made[::-1]]

    second = (await api.get(first["next"], headers=manage)).json()
    back = (await api.get(second["previous"], headers=manage)).json()
    assert back["results"] == first["results"]


async def test_paging_is_stable_while_new_redemptions_arrive(api, manage):
    await amake_coupon("STABLE", init_count=50)
    made = await redeem_n(api, manage, "STABLE", 6)

    first = (await api.get("/v1/redemptions/?page_size=3", headers=manage)).json()
    await redeem_n(api, manage, "STABLE", 4)  # newer rows land before the cursor
    rest = await all_pages(api, manage, first["next"])

    assert [r["id"] for r in first["results"] + rest] == [r["id"] for r in made[::-1]]


async def test_redemptions_are_filtered_by_coupon_customer_and_code(api, manage):
    a = await amake_coupon("ALPHA", init_count=10)
    await amake_coupon("BETA", init_count=10)
    await redeem_n(api, manage, "ALPHA", 2, customer_id="c-1")
    await redeem_n(api, manage, "BETA", 3, customer_id="c-2")
    await redeem_n(api, manage, "BETA", 1, customer_id="c-1")

    async def ids(query: str) -> int:
        return len(await all_pages(api, manage, f"/v1/redemptions/?{query}"))

    assert await ids(f"coupon_id={a.id}") == 2
    assert await ids("customer_id=c-1") == 3
    assert await ids("code=beta") == 4
    assert await ids("code=beta&customer_id=c-1") == 1
    assert await ids("code=GAMMA") == 0


async def test_a_coupons_redemptions_are_listed_under_it(api, manage):
    coupon = await amake_coupon("MINE", init_count=10)
    await amake_coupon("OTHER", init_count=10)
    mine = await redeem_n(api, manage, "MINE", 3)
    await redeem_n(api, manage, "OTHER", 2)

    listed = await all_pages(api, manage, f"/v1/coupons/{coupon.id}/redemptions/?page_size=2")

    assert [r["id"] for r in listed] == [r["id"] for r in mine[::-1]]


@pytest.mark.parametrize("coupon_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_the_redemptions_of_an_unknown_coupon_are_not_found(api, manage, coupon_id):
    response = await api.get(f"/v1/coupons/{coupon_id}/redemptions/", headers=manage)
    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=0", "page_size"),
        ("page_size=501", "page_size"),
        ("page_size=ten", "page_size"),
        ("cursor=garbage", "cursor"),
        ("cursor=", "cursor"),  # no cursor is the first page; an empty one is no cursor
        ("coupon_id=nope", "coupon_id"),
        # Over the limit as sent, even if trimming would bring it under (schemathesis).
        ("code=AB" + "%C2%A0" * 255, "code"),
        ("customer_id=c" + "%20" * 128, "customer_id"),
    ],
)
async def test_bad_list_parameters_are_a_validation_error(api, manage, query, field):
    response = await api.get(f"/v1/redemptions/?{query}", headers=manage)
    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"]


async def test_the_largest_page_size_is_accepted(api, manage):
    response = await api.get("/v1/redemptions/?page_size=500", headers=manage)
    assert response.status_code == 200
    assert response.json() == {"results": [], "next": None, "previous": None}
