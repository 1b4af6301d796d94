"""/v1/campaigns/: create, list, read, edit and delete, through the ASGI app."""

from __future__ import annotations

import uuid

import pytest

from coupons.models import Campaign, Coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

BLACK_FRIDAY = {
    "name": "Black Friday 2026",
    "discount": {"percent_off": 20, "currency": "EUR", "max_amount_off": 1500},
    "per_customer_limit": 1,
    "max_redemptions": 10_000,
    "budget": {"amount": 5_000_000, "currency": "EUR"},
}


async def create(api, manage, **fields):
    response = await api.post("/v1/campaigns/", json={**BLACK_FRIDAY, **fields}, headers=manage)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_campaign_is_created_with_the_contract_fields(api, manage):
    response = await api.post("/v1/campaigns/", json=BLACK_FRIDAY, headers=manage)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= {  # answers only gain fields
        "id", "name", "is_active", "starts_at", "expires_at", "discount",
        "per_customer_limit", "max_redemptions", "budget", "redemption_count", "held_count",
        "discount_total", "budget_remaining", "coupon_count", "metadata", "created_at",
        "updated_at",
    }  # fmt: skip
    assert body["discount"] == {
        "percent_off": 20, "amount_off": None, "currency": "EUR", "max_amount_off": 1500,
        "min_order_amount": None,
        "combines_with": {"order": False, "product": False, "shipping": False},
    }  # fmt: skip
    assert body["budget"] == {"amount": 5_000_000, "currency": "EUR"}
    assert body["budget_remaining"] == 5_000_000
    assert (body["redemption_count"], body["held_count"], body["discount_total"]) == (0, 0, 0)
    assert body["coupon_count"] == 0 and body["is_active"] is True and body["metadata"] == {}
    assert response.headers["location"].endswith(f"/v1/campaigns/{body['id']}/")
    fetched = await api.get(f"/v1/campaigns/{body['id']}/", headers=manage)
    assert fetched.status_code == 200 and fetched.json() == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"max_redemptions": 0}, "max_redemptions"),
        ({"per_customer_limit": 0}, "per_customer_limit"),
        ({"budget": {"amount": 100, "currency": "USD"}}, "budget.currency"),
        ({"discount": None}, "budget.currency"),
        ({"discount": {"percent_off": 10}}, "budget.currency"),
        ({"budget": {"amount": -1, "currency": "EUR"}}, "budget.amount"),
        ({"starts_at": "2027-01-02T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z"},
         "expires_at"),
        ({"redemption_count": 3}, "redemption_count"),
    ],
)  # fmt: skip
async def test_bad_campaigns_are_a_400_naming_the_field(api, manage, body, field):
    response = await api.post("/v1/campaigns/", json={**BLACK_FRIDAY, **body}, headers=manage)

    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"], problem
    assert await Campaign.objects.acount() == 0


async def test_campaigns_are_listed_newest_first_in_pages_and_filtered(api, manage):
    made = [await create(api, manage, name=f"c{i}", is_active=i % 2 == 0) for i in range(5)]

    first = await api.get("/v1/campaigns/?page_size=2", headers=manage)
    assert first.status_code == 200
    names = [c["name"] for c in first.json()["results"]]
    assert names == ["c4", "c3"]
    second = await api.get(first.json()["next"], headers=manage)
    assert [c["name"] for c in second.json()["results"]] == ["c2", "c1"]
    active = await api.get("/v1/campaigns/?is_active=true", headers=manage)
    assert [c["name"] for c in active.json()["results"]] == ["c4", "c2", "c0"]
    assert len(made) == 5
    bad = await api.get("/v1/campaigns/?is_active=yes", headers=manage)
    assert_problem(bad, 400, "validation_error")
    unknown = await api.get("/v1/campaigns/?active=true", headers=manage)
    assert_problem(unknown, 400, "validation_error")


async def test_campaigns_need_the_manage_scope(api, redeem):
    response = await api.get("/v1/campaigns/", headers=redeem)

    assert_problem(response, 403, "permission_denied")


async def test_codes_join_a_campaign_and_take_its_discount(api, manage):
    campaign = await create(api, manage)

    single = await api.post(
        "/v1/coupons/", json={"code": "BF-ONE", "init_count": 1,
                              "campaign_id": campaign["id"]}, headers=manage,
    )  # fmt: skip
    batch = await api.post(
        "/v1/coupons/batch/", json={"count": 3, "length": 8, "init_count": 1, "prefix": "BF-",
                                    "campaign_id": campaign["id"]}, headers=manage,
    )  # fmt: skip
    plain = await api.post("/v1/coupons/", json={"code": "PLAIN", "init_count": 1}, headers=manage)

    assert single.status_code == 201, single.text
    assert single.json()["campaign_id"] == campaign["id"]
    assert single.json()["discount"] is None
    assert batch.status_code == 201, batch.text
    assert plain.json()["campaign_id"] is None
    listed = await api.get(f"/v1/coupons/?campaign_id={campaign['id']}", headers=manage)
    assert sorted(c["code"] for c in listed.json()["results"]) == sorted(
        ["BF-ONE", *batch.json()["codes"]]
    )
    fetched = await api.get(f"/v1/campaigns/{campaign['id']}/", headers=manage)
    assert fetched.json()["coupon_count"] == 4


@pytest.mark.parametrize("path", ["/v1/coupons/", "/v1/coupons/batch/"])
async def test_a_code_of_a_campaign_with_its_own_discount_is_a_400(api, manage, path):
    campaign = await create(api, manage)
    body = {"code": "BF-OWN", "count": 2, "length": 8, "init_count": 1,
            "campaign_id": campaign["id"], "discount": {"percent_off": 5}}  # fmt: skip
    if path == "/v1/coupons/":
        del body["count"], body["length"]
    else:
        del body["code"]

    response = await api.post(path, json=body, headers=manage)

    problem = assert_problem(response, 400, "validation_error")
    assert "discount" in problem["errors"]
    assert await Coupon.objects.acount() == 0


async def test_a_code_of_an_unknown_campaign_is_a_400(api, manage):
    response = await api.post(
        "/v1/coupons/",
        json={"code": "NOPE", "init_count": 1, "campaign_id": str(uuid.uuid4())},
        headers=manage,
    )

    problem = assert_problem(response, 400, "validation_error")
    assert "campaign_id" in problem["errors"]


async def test_editable_fields_change_and_metadata_merges(api, manage):
    campaign = await create(api, manage, metadata={"team": "growth", "drop": "me"})

    response = await api.patch(
        f"/v1/campaigns/{campaign['id']}/",
        json={"name": "BF", "is_active": False, "max_redemptions": 5, "per_customer_limit": None,
              "budget": {"amount": 100, "currency": "EUR"},
              "metadata": {"drop": None, "wave": "2"}},
        headers=manage,
    )  # fmt: skip

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "BF" and body["is_active"] is False
    assert body["max_redemptions"] == 5 and body["per_customer_limit"] is None
    assert body["budget"] == {"amount": 100, "currency": "EUR"}
    assert body["budget_remaining"] == 100
    assert body["metadata"] == {"team": "growth", "wave": "2"}


async def test_a_budget_in_another_currency_than_the_stored_discount_is_a_400(api, manage):
    campaign = await create(api, manage)

    response = await api.patch(
        f"/v1/campaigns/{campaign['id']}/",
        json={"budget": {"amount": 100, "currency": "USD"}},
        headers=manage,
    )

    assert_problem(response, 400, "validation_error")


async def test_a_window_edit_crossing_the_stored_end_is_a_400(api, manage):
    campaign = await create(api, manage, expires_at="2027-01-01T00:00:00Z")

    response = await api.patch(
        f"/v1/campaigns/{campaign['id']}/",
        json={"starts_at": "2027-02-01T00:00:00Z"},
        headers=manage,
    )

    problem = assert_problem(response, 400, "validation_error")
    assert "expires_at" in problem["errors"]


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
async def test_an_unknown_campaign_is_not_found(api, manage, method):
    url = f"/v1/campaigns/{uuid.uuid4()}/"
    kwargs = {"json": {"name": "x"}} if method == "patch" else {}

    response = await getattr(api, method)(url, headers=manage, **kwargs)

    assert_problem(response, 404, "not_found")


async def test_deleting_a_campaign_never_redeemed_deletes_its_codes(api, manage):
    campaign = await create(api, manage)
    await api.post("/v1/coupons/batch/", json={"count": 3, "length": 8, "init_count": 1,
                   "campaign_id": campaign["id"]}, headers=manage)  # fmt: skip
    other = await api.post("/v1/coupons/", json={"code": "KEEP", "init_count": 1}, headers=manage)

    response = await api.delete(f"/v1/campaigns/{campaign['id']}/", headers=manage)

    assert response.status_code == 204
    assert await Campaign.objects.acount() == 0
    assert [c.code async for c in Coupon.objects.all()] == ["KEEP"]
    assert other.status_code == 201


async def test_a_code_of_a_campaign_cannot_be_given_a_discount_later(api, manage):
    campaign = await create(api, manage)
    coupon = (
        await api.post(
            "/v1/coupons/",
            json={"code": "BF-LATER", "init_count": 1, "campaign_id": campaign["id"]},
            headers=manage,
        )
    ).json()

    response = await api.patch(
        f"/v1/coupons/{coupon['id']}/", json={"discount": {"percent_off": 5}}, headers=manage
    )
    cleared = await api.patch(f"/v1/coupons/{coupon['id']}/", json={"discount": None},
                              headers=manage)  # fmt: skip

    problem = assert_problem(response, 400, "validation_error")
    assert "discount" in problem["errors"]
    assert cleared.status_code == 200 and cleared.json()["campaign_id"] == campaign["id"]
