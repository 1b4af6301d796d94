"""GET /v1/events/ and /v1/events/{id}/: scope, filters, pages and their `next`."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async

from tests.events.helpers import all_events, wait_for_log
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)


async def make(api, manage, code):
    response = await api.post("/v1/coupons/", json={"code": code, "init_count": 3}, headers=manage)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_redeem_key_may_not_read_events(api, redeem):
    assert_problem(await api.get("/v1/events/", headers=redeem), 403, "permission_denied")
    path = f"/v1/events/{uuid.uuid4()}/"
    assert_problem(await api.get(path, headers=redeem), 403, "permission_denied")
    assert_problem(await api.get("/v1/events/"), 401, "unauthenticated")


async def test_an_unknown_event_is_404(api, manage):
    assert_problem(await api.get(f"/v1/events/{uuid.uuid4()}/", headers=manage), 404, "not_found")


async def test_next_is_always_given_and_pages_go_oldest_first_exactly_once(api, manage):
    empty = await api.get("/v1/events/", headers=manage)
    assert empty.status_code == 200
    assert empty.json()["results"] == [] and empty.json()["next"]
    for n in range(5):
        await make(api, manage, f"PAGE-{n}")
    await sync_to_async(wait_for_log)()

    seen: list[str] = []
    response = await api.get(empty.json()["next"], params={"page_size": 2}, headers=manage)
    while True:
        page = response.json()
        assert response.status_code == 200 and page["next"] and page["previous"] is None
        assert len(page["results"]) <= 2
        if not page["results"]:
            break
        seen += [e["data"]["code"] for e in page["results"]]
        response = await api.get(page["next"], headers=manage)
    assert seen == [f"PAGE-{n}" for n in range(5)]

    # The last `next` waits for what comes after: one more change, one more event.
    await make(api, manage, "PAGE-5")
    await sync_to_async(wait_for_log)()
    later = (await api.get(page["next"], headers=manage)).json()
    assert [e["data"]["code"] for e in later["results"]] == ["PAGE-5"]


async def test_type_filters_repeat_and_an_unknown_type_is_refused(api, manage):
    coupon = await make(api, manage, "TYPES")
    await api.patch(f"/v1/coupons/{coupon['id']}/", json={"is_active": False}, headers=manage)
    await api.delete(f"/v1/coupons/{coupon['id']}/", headers=manage)

    both = await all_events(api, manage, type=["coupon.created", "coupon.deleted"])
    assert [e["type"] for e in both] == ["coupon.created", "coupon.deleted"]
    assert [e["type"] for e in await all_events(api, manage)] == [
        "coupon.created", "coupon.updated", "coupon.deleted",
    ]  # fmt: skip

    refused = await api.get("/v1/events/?type=coupon.created&type=coupon.melted", headers=manage)
    body = assert_problem(refused, 400, "validation_error")
    assert "coupon.melted" in body["errors"]["type"][0]


@pytest.mark.parametrize(
    "query",
    ["cursor=made-up", "page_size=0", "page_size=1001", "colour=red", "cursor=a&cursor=b"],
)
async def test_bad_list_parameters_are_400(api, manage, query):
    assert_problem(await api.get(f"/v1/events/?{query}", headers=manage), 400, "validation_error")
